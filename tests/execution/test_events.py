from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.execution.events import (
    EVENT_TYPES,
    NodeCompleted,
    NodeFailed,
    NodeOutputDelta,
    NodeStatus,
    NodeStatusChanged,
    RunCancelled,
    RunCompleted,
    RunEvent,
    RunFailed,
    RunStarted,
    UnknownEventError,
    event_from_json,
)

AT = datetime(2025, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)

EVENTS: list[RunEvent] = [
    RunStarted(run_id="r", seq=1, at=AT, flow_id="f"),
    NodeStatusChanged(run_id="r", seq=2, at=AT, node_id="n", status=NodeStatus.RUNNING),
    NodeOutputDelta(run_id="r", seq=3, at=AT, node_id="n", delta="Once "),
    NodeCompleted(run_id="r", seq=4, at=AT, node_id="n", output={"text": "Once"}, cache_key="k"),
    NodeFailed(run_id="r", seq=5, at=AT, node_id="m", error="boom"),
    RunCompleted(run_id="r", seq=6, at=AT, outputs={"n": {"text": "Once"}}),
    RunFailed(run_id="r", seq=7, at=AT, error="node 'm' failed: boom"),
    RunCancelled(run_id="r", seq=8, at=AT),
]


@pytest.mark.parametrize("event", EVENTS, ids=lambda event: type(event).__name__)
def test_event_survives_json_round_trip(event: RunEvent) -> None:
    assert event_from_json(event.event_name, event.to_json()) == event


def test_event_payload_uses_graphql_field_names() -> None:
    payload = EVENTS[1].to_json()
    assert payload == {
        "runId": "r",
        "seq": 2,
        "at": "2025-01-02T03:04:05.678000+00:00",
        "nodeId": "n",
        "status": "running",
    }


def test_every_event_type_is_stored_under_its_graphql_type_name() -> None:
    assert len(EVENT_TYPES) == 8
    assert all(name == event_type.__name__ for name, event_type in EVENT_TYPES.items())


def test_unknown_event_name_is_refused() -> None:
    with pytest.raises(UnknownEventError, match=r"run\.exploded"):
        event_from_json("run.exploded", {})

