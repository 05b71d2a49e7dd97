"""Running flows in tests: collect a run's events and describe them compactly."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from services.execution.components import CATALOG
from services.execution.events import (
    NodeCompleted,
    NodeFailed,
    NodeOutputDelta,
    NodeStatusChanged,
    RunEvent,
)
from services.execution.graph import Graph
from services.execution.runner import CancelToken, Resume, RunRequest, run_flow
from tests.execution.fakes import FakeMediaStore, FakeProviders, FakeResultCache, FakeTextProvider


async def run(
    graph: Graph,
    *,
    providers: FakeProviders | None = None,
    flow_provider_id: str | None = "mistral",
    trigger_node_id: str | None = None,
    cached_outputs: Mapping[str, Any] | None = None,
    result_cache: FakeResultCache | None = None,
    cancel_token: CancelToken | None = None,
    delta_window: float = 0.0,
    resume: Resume | None = None,
    **options: Any,
) -> list[RunEvent]:
    request = RunRequest(
        run_id="run-1",
        graph=graph,
        flow_provider_id=flow_provider_id,
        trigger_node_id=trigger_node_id,
        cached_outputs=cached_outputs or {},
        cancel_token=cancel_token,
        delta_window=delta_window,
        resume=resume,
    )
    events = run_flow(
        request,
        catalog=CATALOG,
        providers=providers or FakeProviders(FakeTextProvider()),
        media=FakeMediaStore(),
        result_cache=result_cache,
        **options,
    )
    return [event async for event in events]


def describe(event: RunEvent) -> tuple[str, ...]:
    """An event without its run id, seq and time: what a test compares."""
    if isinstance(event, NodeStatusChanged):
        return (event.node_id, event.status.value)
    if isinstance(event, NodeOutputDelta):
        return (event.node_id, "delta", event.delta)
    if isinstance(event, NodeCompleted):
        return (event.node_id, "completed")
    if isinstance(event, NodeFailed):
        return (event.node_id, "failed", event.error)
    return (type(event).__name__,)


def statuses(events: list[RunEvent], node_id: str) -> list[str]:
    return [d[1] for d in map(describe, events) if d[0] == node_id and d[1] != "delta"]
