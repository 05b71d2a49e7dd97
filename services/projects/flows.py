from __future__ import annotations

from typing import Any

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Flow
from db.repositories.projects import OwnedRepository
from services.accounts.actors import Actor
from services.accounts.auth import require_user
from services.errors import BadInput, Conflict
from services.events.bus import record_event
from services.execution.graph import (
    EMPTY_GRAPH_JSON,
    Graph,
    GraphLimits,
    GraphShapeError,
    parse_graph,
)
from services.execution.providers.known import TEXT_PROVIDER_IDS
from services.platform.input_checks import clean_name, parse_uuid
from services.platform.pagination import Page, PageRequest
from services.projects.ownership import get_visible
from services.projects.projects import get_project, list_project_contents


async def get_flow(session: AsyncSession, actor: Actor, flow_id: str) -> Flow:
    return await get_visible(session, actor, Flow, "flow", parse_uuid("flow", flow_id))


async def list_flows(
    session: AsyncSession, actor: Actor, request: PageRequest, *, project_id: str | None
) -> Page[Row[Any]]:
    return await list_project_contents(session, actor, Flow, request, project_id=project_id)


async def create_flow(
    session: AsyncSession,
    actor: Actor,
    *,
    project_id: str,
    name: str,
    graph_data: object | None,
    provider_id: str | None,
    limits: GraphLimits,
) -> Flow:
    user = require_user(actor)
    project = await get_project(session, actor, project_id)
    flow = await OwnedRepository(session, Flow).add(
        Flow(
            user_id=user.id,
            project_id=project.id,
            name=clean_name("name", name),
            graph_data=_checked_graph(EMPTY_GRAPH_JSON if graph_data is None else graph_data, limits),
            provider_id=checked_text_provider(provider_id),
        )
    )
    _record(session, actor, "flow.created", flow)
    return flow


async def update_flow(
    session: AsyncSession,
    actor: Actor,
    flow_id: str,
    *,
    version: int,
    name: str | None,
    graph_data: object | None,
    provider_id: str | None,
    clear_provider: bool,
    limits: GraphLimits,
) -> Flow:
    """`version` is the one the client last read: an update on top of another is refused."""
    flow = await get_flow(session, actor, flow_id)
    if version != flow.version:
        raise Conflict(
            f"version: flow {flow.id} is at version {flow.version}, not {version}; "
            "reload it and apply your change again",
            field="version",
        )
    if name is not None:
        flow.name = clean_name("name", name)
    if graph_data is not None:
        flow.graph_data = _checked_graph(graph_data, limits)
    if provider_id is not None or clear_provider:
        flow.provider_id = None if clear_provider else checked_text_provider(provider_id)
    await session.flush()
    _record(session, actor, "flow.updated", flow)
    return flow


async def delete_flow(session: AsyncSession, actor: Actor, flow_id: str) -> bool:
    flow = await get_flow(session, actor, flow_id)
    _record(session, actor, "flow.deleted", flow)
    await OwnedRepository(session, Flow).delete(flow)
    return True


def _checked_graph(graph_data: object, limits: GraphLimits) -> dict[str, Any]:
    """The graph as the editor sent it, once its shape is right: React Flow's extra keys
    (parentId, measured, style, ...) are the editor's to keep."""
    parsed_graph(graph_data, limits, field="graphData")
    assert isinstance(graph_data, dict)
    return graph_data


def parsed_graph(graph_data: object, limits: GraphLimits, *, field: str) -> Graph:
    """The graph, or BadInput naming the member that is wrong, e.g. graphData.nodes[2].id."""
    try:
        return parse_graph(graph_data, limits)
    except GraphShapeError as error:
        path = field if error.path == "graph" else f"{field}.{error.path}"
        raise BadInput(path, error.problem) from None


def checked_text_provider(provider_id: str | None) -> str | None:
    if provider_id is None or provider_id in TEXT_PROVIDER_IDS:
        return provider_id
    raise BadInput(
        "providerId", f"unknown text provider {provider_id!r}; known: {', '.join(TEXT_PROVIDER_IDS)}"
    )


def _record(session: AsyncSession, actor: Actor, name: str, flow: Flow) -> None:
    record_event(
        session,
        name,
        user_id=flow.user_id,
        project_id=flow.project_id,
        session_id=str(actor.session_id),
        payload={"flowId": str(flow.id), "name": flow.name, "version": flow.version},
    )
