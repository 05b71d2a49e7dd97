from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Character, Flow, Project
from db.repositories.projects import ListedFlow, OwnedRepository
from services.accounts.actors import Actor
from services.accounts.auth import require_user
from services.events.bus import record_event
from services.platform.input_checks import clean_name, clean_text, parse_int_id
from services.platform.pagination import Page, PageRequest
from services.projects.ownership import get_visible

Contents = TypeVar("Contents", Flow, Character)


async def get_project(session: AsyncSession, actor: Actor, project_id: str) -> Project:
    return await get_visible(session, actor, Project, "project", parse_int_id("project", project_id))


async def list_projects(session: AsyncSession, actor: Actor, request: PageRequest) -> Page[Row[Any]]:
    """A page of the caller's projects, as rows (db.repositories.projects.ProjectListing)."""
    rows = await OwnedRepository(session, Project).page(
        owner_id=actor.owner_filter, offset=request.offset, limit=request.limit
    )
    return Page.from_rows(rows)


async def list_projects_with_flows(
    session: AsyncSession, actor: Actor, request: PageRequest
) -> tuple[Page[Row[Any]], dict[int, list[ListedFlow]]]:
    """list_projects, with every flow of the page's projects (by project id), in one statement."""
    rows, flows = await OwnedRepository(session, Project).page_with_flows(
        owner_id=actor.owner_filter, offset=request.offset, limit=request.limit
    )
    return Page.from_rows(rows), flows


async def list_project_contents(
    session: AsyncSession,
    actor: Actor,
    model: type[Contents],
    request: PageRequest,
    *,
    project_id: str | None,
) -> Page[Row[Any]]:
    """The caller's flows or characters, of one project when `project_id` is given, as rows
    (db.repositories.projects.FlowListing, CharacterListing)."""
    project = await get_project(session, actor, project_id) if project_id is not None else None
    rows = await OwnedRepository(session, model).page(
        owner_id=actor.owner_filter,
        project_id=project.id if project else None,
        offset=request.offset,
        limit=request.limit,
    )
    return Page.from_rows(rows)


async def create_project(
    session: AsyncSession, actor: Actor, *, name: str, description: str, max_text_length: int
) -> Project:
    user = require_user(actor)
    project = await OwnedRepository(session, Project).add(
        Project(
            user_id=user.id,
            name=clean_name("name", name),
            description=clean_text("description", description, max_length=max_text_length),
        )
    )
    _record(session, actor, "project.created", project)
    return project


async def update_project(
    session: AsyncSession,
    actor: Actor,
    project_id: str,
    *,
    name: str | None,
    description: str | None,
    max_text_length: int,
) -> Project:
    project = await get_project(session, actor, project_id)
    if name is not None:
        project.name = clean_name("name", name)
    if description is not None:
        project.description = clean_text("description", description, max_length=max_text_length)
    await session.flush()
    _record(session, actor, "project.updated", project)
    return project


async def delete_project(session: AsyncSession, actor: Actor, project_id: str) -> bool:
    project = await get_project(session, actor, project_id)
    _record(session, actor, "project.deleted", project)
    await OwnedRepository(session, Project).delete(project)
    return True


def _record(session: AsyncSession, actor: Actor, name: str, project: Project) -> None:
    record_event(
        session,
        name,
        user_id=project.user_id,
        project_id=project.id,
        session_id=str(actor.session_id),
        payload={"projectId": project.id, "name": project.name},
    )
