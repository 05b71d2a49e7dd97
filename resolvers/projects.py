from __future__ import annotations

import strawberry

from resolvers.common import given, max_text_length, page_of, selects
from schema.context import Info
from schema.inputs import CreateProjectInput, UpdateProjectInput
from schema.types.pagination import Connection
from schema.types.projects import Project
from services.projects import projects

# Where a page of projects selects its projects' flows.
FLOWS_OF_NODES = ("nodes", "flows")
FLOWS_OF_EDGES = ("edges", "node", "flows")


async def list_projects(
    info: Info, first: int | None = None, after: str | None = None
) -> Connection[Project]:
    actor = await info.context.require_actor()
    request = page_of(info, first, after)
    if not (selects(info, FLOWS_OF_NODES) or selects(info, FLOWS_OF_EDGES)):
        page = await projects.list_projects(info.context.session, actor, request)
        return Connection.of(page, Project.from_model)
    # The page and its flows in one statement; each project's `flows` answers with its own.
    page, flows = await projects.list_projects_with_flows(info.context.session, actor, request)
    return Connection.of(page, lambda row: Project.from_model(row, flows=flows[row.id]))


async def project(info: Info, id: strawberry.ID) -> Project:
    actor = await info.context.require_actor()
    return Project.from_model(await projects.get_project(info.context.session, actor, id))


async def create_project(info: Info, input: CreateProjectInput) -> Project:
    actor = await info.context.require_actor()
    created = await projects.create_project(
        info.context.session,
        actor,
        name=input.name,
        description=input.description,
        max_text_length=max_text_length(info),
    )
    return Project.from_model(created)


async def update_project(info: Info, id: strawberry.ID, input: UpdateProjectInput) -> Project:
    actor = await info.context.require_actor()
    updated = await projects.update_project(
        info.context.session,
        actor,
        id,
        name=given(input.name),
        description=given(input.description),
        max_text_length=max_text_length(info),
    )
    return Project.from_model(updated)


async def delete_project(info: Info, id: strawberry.ID) -> bool:
    actor = await info.context.require_actor()
    return await projects.delete_project(info.context.session, actor, id)
