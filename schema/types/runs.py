"""Runs, their node results, and the run events as GraphQL types (ARCHITECTURE.md, "The engine and its events")."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from strawberry.scalars import JSON

from db.models import Run as RunModel
from db.models import RunNodeResult as RunNodeResultModel
from db.models import RunStatus
from schema.context import Info
from services.execution import events

# The engine's and the database's enums, exposed as they are (one concept, one name).
strawberry.enum(events.NodeStatus, description="A node's state in a run. Events carry the first five.")


strawberry.enum(RunStatus)


@strawberry.input(description="Run a stored flow (flowId) or a graph as the editor holds it.")
class RunInput:
    flow_id: strawberry.ID | None = None
    graph: JSON | None = strawberry.field(default=None, description="Nodes, edges and viewport.")
    provider_id: str | None = strawberry.field(
        default=None, description="Text provider for nodes without their own; default: the flow's."
    )
    trigger_node_id: str | None = strawberry.field(
        default=None, description="Run this node and its descendants; reuse other outputs."
    )
    cached_outputs: JSON | None = strawberry.field(
        default=None, description="Node id -> output, for the nodes a partial run does not rerun."
    )


@strawberry.interface
class RunEvent:
    run_id: strawberry.ID
    seq: int
    at: datetime


@strawberry.type
class RunStarted(RunEvent):
    flow_id: strawberry.ID | None


@strawberry.type
class NodeStatusChanged(RunEvent):
    node_id: str
    status: events.NodeStatus


@strawberry.type
class NodeOutputDelta(RunEvent):
    node_id: str
    delta: str


@strawberry.type
class NodeCompleted(RunEvent):
    node_id: str
    output: JSON


@strawberry.type
class NodeFailed(RunEvent):
    node_id: str
    error: str


@strawberry.type
class RunCompleted(RunEvent):
    outputs: JSON = strawberry.field(description="Node id -> output.")


@strawberry.type
class RunFailed(RunEvent):
    error: str


@strawberry.type
class RunCancelled(RunEvent):
    pass


RUN_EVENT_TYPES: tuple[type[RunEvent], ...] = (
    RunStarted,
    NodeStatusChanged,
    NodeOutputDelta,
    NodeCompleted,
    NodeFailed,
    RunCompleted,
    RunFailed,
    RunCancelled,
)


def run_event(event: events.RunEvent) -> RunEvent:
    common: dict[str, Any] = {"run_id": strawberry.ID(event.run_id), "seq": event.seq, "at": event.at}
    match event:
        case events.RunStarted():
            flow_id = None if event.flow_id is None else strawberry.ID(event.flow_id)
            return RunStarted(**common, flow_id=flow_id)
        case events.NodeStatusChanged():
            return NodeStatusChanged(**common, node_id=event.node_id, status=event.status)
        case events.NodeOutputDelta():
            return NodeOutputDelta(**common, node_id=event.node_id, delta=event.delta)
        case events.NodeCompleted():
            return NodeCompleted(**common, node_id=event.node_id, output=JSON(event.output))
        case events.NodeFailed():
            return NodeFailed(**common, node_id=event.node_id, error=event.error)
        case events.RunCompleted():
            return RunCompleted(**common, outputs=JSON(event.outputs))
        case events.RunFailed():
            return RunFailed(**common, error=event.error)
        case events.RunCancelled():
            return RunCancelled(**common)
    raise TypeError(f"not a run event: {event!r}")


@strawberry.type
class RunNodeResult:
    node_id: str
    node_type: str
    status: events.NodeStatus
    output: JSON | None
    error: str | None
    started_at: datetime | None
    finished_at: datetime | None
    duration_ms: float | None

    @classmethod
    def from_model(cls, result: RunNodeResultModel) -> RunNodeResult:
        return cls(
            node_id=result.node_id,
            node_type=result.node_type,
            status=events.NodeStatus(result.status),
            output=None if result.output is None else JSON(result.output),
            error=result.error,
            started_at=result.started_at,
            finished_at=result.finished_at,
            duration_ms=result.duration_ms,
        )


@strawberry.type
class Run:
    id: strawberry.ID
    flow_id: strawberry.ID | None
    status: RunStatus
    provider_id: str | None
    trigger_node_id: str | None
    graph_data: JSON = strawberry.field(description="The graph as it was run.")
    outputs: JSON | None
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @strawberry.field(description="Each node's status, output and timings.")
    async def node_results(self, info: Info) -> list[RunNodeResult]:
        rows = await info.context.loaders.node_results_by_run.load(self.id)
        return [RunNodeResult.from_model(row) for row in rows]

    @classmethod
    def from_model(cls, run: RunModel) -> Run:
        return cls(
            id=strawberry.ID(str(run.id)),
            flow_id=None if run.flow_id is None else strawberry.ID(str(run.flow_id)),
            status=RunStatus(run.status),
            provider_id=run.provider_id,
            trigger_node_id=run.trigger_node_id,
            graph_data=JSON(run.graph_data),
            outputs=None if run.outputs is None else JSON(run.outputs),
            error=run.error,
            created_at=run.created_at,
            started_at=run.started_at,
            finished_at=run.finished_at,
        )
