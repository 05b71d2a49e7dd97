"""The events a run yields (ARCHITECTURE.md, "The engine and its events"), and their JSON form for `event_logs`.

Every event carries the run id, a per-run sequence number (1, 2, ... in the order the runner
yields them) and a UTC timestamp. `to_json()` gives the payload stored next to `event_name`;
`event_from_json(name, payload)` rebuilds the event, so a stored run can be replayed.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

JSONObject = dict[str, Any]


class NodeStatus(enum.Enum):
    # The first five travel in NodeStatusChanged events.
    PENDING = "pending"
    RUNNING = "running"
    CACHED = "cached"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"
    # A stored node result ends in one of these too; events say them with NodeCompleted and
    # NodeFailed instead, which carry the output or the error.
    COMPLETED = "completed"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class RunStarted:
    event_name: ClassVar[str] = "RunStarted"
    run_id: str
    seq: int
    at: datetime
    flow_id: str | None = None

    def to_json(self) -> JSONObject:
        return {**_common(self), "flowId": self.flow_id}

    @classmethod
    def from_json(cls, payload: Mapping[str, Any]) -> RunStarted:
        return cls(**_common_args(payload), flow_id=payload.get("flowId"))


@dataclass(frozen=True, slots=True)
class NodeStatusChanged:
    event_name: ClassVar[str] = "NodeStatusChanged"
    run_id: str
    seq: int
    at: datetime
    node_id: str
    status: NodeStatus

    def to_json(self) -> JSONObject:
        return {**_common(self), "nodeId": self.node_id, "status": self.status.value}

    @classmethod
    def from_json(cls, payload: Mapping[str, Any]) -> NodeStatusChanged:
        return cls(
            **_common_args(payload), node_id=payload["nodeId"], status=NodeStatus(payload["status"])
        )


@dataclass(frozen=True, slots=True)
class NodeOutputDelta:
    event_name: ClassVar[str] = "NodeOutputDelta"
    run_id: str
    seq: int
    at: datetime
    node_id: str
    delta: str

    def to_json(self) -> JSONObject:
        return {**_common(self), "nodeId": self.node_id, "delta": self.delta}

    @classmethod
    def from_json(cls, payload: Mapping[str, Any]) -> NodeOutputDelta:
        return cls(**_common_args(payload), node_id=payload["nodeId"], delta=payload["delta"])


@dataclass(frozen=True, slots=True)
class NodeCompleted:
    event_name: ClassVar[str] = "NodeCompleted"
    run_id: str
    seq: int
    at: datetime
    node_id: str
    output: JSONObject
    # Not part of the GraphQL event: the server stores it with the node's result, so a later
    # partial run can find this output again (see `cache.cache_key`).
    cache_key: str | None = None

    def to_json(self) -> JSONObject:
        return {
            **_common(self),
            "nodeId": self.node_id,
            "output": self.output,
            "cacheKey": self.cache_key,
        }

    @classmethod
    def from_json(cls, payload: Mapping[str, Any]) -> NodeCompleted:
        return cls(
            **_common_args(payload),
            node_id=payload["nodeId"],
            output=payload["output"],
            cache_key=payload.get("cacheKey"),
        )


@dataclass(frozen=True, slots=True)
class NodeFailed:
    event_name: ClassVar[str] = "NodeFailed"
    run_id: str
    seq: int
    at: datetime
    node_id: str
    error: str

    def to_json(self) -> JSONObject:
        return {**_common(self), "nodeId": self.node_id, "error": self.error}

    @classmethod
    def from_json(cls, payload: Mapping[str, Any]) -> NodeFailed:
        return cls(**_common_args(payload), node_id=payload["nodeId"], error=payload["error"])


@dataclass(frozen=True, slots=True)
class RunCompleted:
    event_name: ClassVar[str] = "RunCompleted"
    run_id: str
    seq: int
    at: datetime
    outputs: JSONObject  # node id -> output

    def to_json(self) -> JSONObject:
        return {**_common(self), "outputs": self.outputs}

    @classmethod
    def from_json(cls, payload: Mapping[str, Any]) -> RunCompleted:
        return cls(**_common_args(payload), outputs=payload["outputs"])


@dataclass(frozen=True, slots=True)
class RunFailed:
    event_name: ClassVar[str] = "RunFailed"
    run_id: str
    seq: int
    at: datetime
    error: str

    def to_json(self) -> JSONObject:
        return {**_common(self), "error": self.error}

    @classmethod
    def from_json(cls, payload: Mapping[str, Any]) -> RunFailed:
        return cls(**_common_args(payload), error=payload["error"])


@dataclass(frozen=True, slots=True)
class RunCancelled:
    event_name: ClassVar[str] = "RunCancelled"
    run_id: str
    seq: int
    at: datetime

    def to_json(self) -> JSONObject:
        return _common(self)

    @classmethod
    def from_json(cls, payload: Mapping[str, Any]) -> RunCancelled:
        return cls(**_common_args(payload))


RunEvent = (
    RunStarted
    | NodeStatusChanged
    | NodeOutputDelta
    | NodeCompleted
    | NodeFailed
    | RunCompleted
    | RunFailed
    | RunCancelled
)

# The events that end a run's stream: exactly one of them comes last.
FINAL_EVENTS = (RunCompleted, RunFailed, RunCancelled)

EVENT_TYPES: dict[str, type[RunEvent]] = {
    event_type.event_name: event_type
    for event_type in (
        RunStarted,
        NodeStatusChanged,
        NodeOutputDelta,
        NodeCompleted,
        NodeFailed,
        RunCompleted,
        RunFailed,
        RunCancelled,
    )
}


class UnknownEventError(ValueError):
    """A stored event name this version of the engine does not know."""


def event_from_json(name: str, payload: Mapping[str, Any]) -> RunEvent:
    event_type = EVENT_TYPES.get(name)
    if event_type is None:
        raise UnknownEventError(f"unknown run event {name!r}")
    return event_type.from_json(payload)


def _common(event: RunEvent) -> JSONObject:
    return {"runId": event.run_id, "seq": event.seq, "at": event.at.isoformat()}


def _common_args(payload: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "run_id": payload["runId"],
        "seq": payload["seq"],
        "at": datetime.fromisoformat(payload["at"]),
    }
