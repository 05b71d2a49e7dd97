from __future__ import annotations

import strawberry
from strawberry.types.unset import UnsetType

from resolvers.common import given, page_of
from schema.context import Info
from schema.inputs import CreateFlowInput, UpdateFlowInput
from schema.types.pagination import Connection
from schema.types.projects import Flow
from services.projects import flows


async def list_flows(
    info: Info,
    project_id: strawberry.ID | None = None,
    first: int | None = None,
    after: str | None = None,
) -> Connection[Flow]:
    actor = await info.context.require_actor()
    page = await flows.list_flows(
        info.context.session, actor, page_of(info, first, after), project_id=project_id
    )
    return Connection.of(page, Flow.from_model)


async def flow(info: Info, id: strawberry.ID) -> Flow:
    actor = await info.context.require_actor()
    return Flow.from_model(await flows.get_flow(info.context.session, actor, id))


async def create_flow(info: Info, input: CreateFlowInput) -> Flow:
    actor = await info.context.require_actor()
    created = await flows.create_flow(
        info.context.session,
        actor,
        project_id=input.project_id,
        name=input.name,
        graph_data=given(input.graph_data),
        provider_id=given(input.provider_id),
        limits=info.context.backend.settings.limits.graph_limits,
    )
    return Flow.from_model(created)


async def update_flow(info: Info, id: strawberry.ID, input: UpdateFlowInput) -> Flow:
    actor = await info.context.require_actor()
    updated = await flows.update_flow(
        info.context.session,
        actor,
        id,
        version=input.version,
        name=given(input.name),
        graph_data=given(input.graph_data),
        provider_id=given(input.provider_id),
        # providerId: null clears it; leaving providerId out leaves it as it is.
        clear_provider=input.provider_id is None and not isinstance(input.provider_id, UnsetType),
        limits=info.context.backend.settings.limits.graph_limits,
    )
    return Flow.from_model(updated)


async def delete_flow(info: Info, id: strawberry.ID) -> bool:
    actor = await info.context.require_actor()
    return await flows.delete_flow(info.context.session, actor, id)
