from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Annotated

import strawberry

from resolvers.common import page_of
from schema.context import Info
from schema.types.pagination import Connection
from schema.types.runs import Run, RunEvent, RunInput, run_event
from services.runs import manager, stored


async def run_flow(info: Info, input: RunInput) -> AsyncGenerator[RunEvent, None]:
    """The engine's events, as it yields them; closing the subscription cancels the run."""
    actor = await info.context.require_actor()
    async for event in info.context.backend.runs.stream(actor, _run_input(input)):
        yield run_event(event)


async def run_events(
    info: Info,
    run_id: strawberry.ID,
    after_seq: Annotated[
        int, strawberry.argument(description="Only events after this seq: the last one you saw.")
    ] = 0,
) -> AsyncGenerator[RunEvent, None]:
    """A run's stored events in order, then its live ones: a reload does not lose a run."""
    actor = await info.context.require_actor()
    async for event in info.context.backend.runs.follow(actor, run_id, after_seq=after_seq):
        yield run_event(event)


async def start_run(info: Info, input: RunInput) -> Run:
    actor = await info.context.require_actor()
    return Run.from_model(await info.context.backend.runs.start(actor, _run_input(input)))


async def cancel_run(info: Info, id: strawberry.ID) -> Run:
    actor = await info.context.require_actor()
    return Run.from_model(await info.context.backend.runs.cancel(actor, id))


async def list_runs(
    info: Info, flow_id: strawberry.ID | None = None, first: int | None = None, after: str | None = None
) -> Connection[Run]:
    actor = await info.context.require_actor()
    page = await stored.list_runs(info.context.session, actor, page_of(info, first, after), flow_id=flow_id)
    return Connection.of(page, Run.from_model)


async def run(info: Info, id: strawberry.ID) -> Run:
    actor = await info.context.require_actor()
    return Run.from_model(await stored.get_run(info.context.session, actor, id))


def _run_input(input: RunInput) -> manager.RunInput:
    return manager.RunInput(
        flow_id=input.flow_id,
        graph=input.graph,
        provider_id=input.provider_id,
        trigger_node_id=input.trigger_node_id,
        cached_outputs=input.cached_outputs,
    )
