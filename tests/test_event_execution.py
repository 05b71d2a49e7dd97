"""A subscription's events executed with the selection worked out once (schema.execution) give
exactly what Strawberry's own executor gives, for every event type and any selection."""

from __future__ import annotations

import asyncio
import contextlib
import types
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any, cast

import pytest
import strawberry
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

import resolvers.runs
import schema.types.runs as runs_types
from schema.execution import EventExecutor, KnownPlans
from schema.graphql_core_internals import collected_sub_fields
from schema.root import build_schema
from services.events.bus import DomainEvent
from services.execution import events

RUN_ID = str(uuid.UUID(int=7))
AT = datetime(2026, 12, 1, 3, 4, 5, 678000, tzinfo=UTC)


def every_event() -> list[Any]:
    common: dict[str, Any] = {"run_id": RUN_ID, "at": AT}
    made = [
        events.RunStarted(seq=1, flow_id=None, **common),
        events.RunStarted(seq=2, flow_id="f-1", **common),
        events.NodeStatusChanged(seq=3, node_id="a", status=events.NodeStatus.RUNNING, **common),
        events.NodeOutputDelta(seq=4, node_id="a", delta="héllo ", **common),
        events.NodeOutputDelta(seq=5, node_id="a", delta="", **common),
        events.NodeCompleted(seq=6, node_id="a", output={"text": "x", "n": [1, 2.5, None]}, **common),
        events.NodeFailed(seq=7, node_id="b", error="boom", **common),
        # A value graphql-core refuses: a null for a non-null field (the result's error).
        events.NodeOutputDelta(seq=8, node_id=None, delta="lost", **common),  # type: ignore[arg-type]
        events.NodeStatusChanged(seq=9, node_id="c", status=events.NodeStatus.SKIPPED, **common),
        events.RunCompleted(seq=10, outputs={"a": {"text": "x"}}, **common),
    ]
    return made


def terminal_variants() -> list[Any]:
    common: dict[str, Any] = {"run_id": RUN_ID, "at": AT}
    return [events.RunFailed(seq=11, error="down", **common), events.RunCancelled(seq=12, **common)]


class _Runs:
    def __init__(self, sent: list[Any]) -> None:
        self.sent = sent

    async def stream(self, actor: object, run_input: object) -> AsyncIterator[Any]:
        for event in self.sent:
            yield event

    async def follow(self, actor: object, run_id: str, *, after_seq: int = 0) -> AsyncIterator[Any]:
        for event in self.sent:
            if event.seq > after_seq:
                yield event


class _Context:
    """Enough of schema.context.Context for the run subscriptions' resolvers."""

    connection_params = None

    def __init__(self, sent: list[Any]) -> None:
        self.backend = types.SimpleNamespace(runs=_Runs(sent), bus=types.SimpleNamespace(notifications=self))
        self.sent = sent

    @contextlib.asynccontextmanager
    async def subscribe(self, owner_filter: object) -> AsyncIterator[asyncio.Queue[Any]]:
        queue: asyncio.Queue[Any] = asyncio.Queue()
        for event in self.sent:
            queue.put_nowait(event)
        yield queue

    async def require_actor(self) -> object:
        return types.SimpleNamespace(owner_filter=None)


def reference_schema(**kwargs: Any) -> strawberry.Schema:
    """Our schema, executed by Strawberry's own executor and extension runner."""
    schema = build_schema(**kwargs)
    schema.execution_context_class = StrawberryGraphQLCoreExecutionContext
    schema.create_extensions_runner = types.MethodType(strawberry.Schema.create_extensions_runner, schema)  # type: ignore[method-assign]
    return schema


async def results(
    schema: strawberry.Schema, query: str, variables: dict[str, Any], sent: list[Any], limit: int | None = None
) -> list[Any]:
    stream = await schema.subscribe(query, variable_values=variables, context_value=_Context(sent))
    got = []
    async for result in stream:
        got.append((result.data, [error.formatted for error in result.errors or ()], result.extensions))
        if len(got) == limit:
            await stream.aclose()
    return got


FULL = """subscription($input: RunInput!) { runFlow(input: $input) {
  __typename runId seq at
  ... on RunStarted { flowId }
  ... on NodeStatusChanged { nodeId status }
  ... on NodeOutputDelta { nodeId delta }
  ... on NodeCompleted { nodeId output }
  ... on NodeFailed { nodeId error }
  ... on RunCompleted { outputs }
  ... on RunFailed { error }
} }"""

ALIASED = """subscription($input: RunInput!) { events: runFlow(input: $input) {
  kind: __typename n: seq seq
  ...Text
  ... on NodeOutputDelta { __typename node: nodeId text: delta nodeId }
  ... on RunEvent { when: at }
} }
fragment Text on NodeOutputDelta { delta ... on NodeOutputDelta { again: delta } }"""

DIRECTIVES = """subscription($input: RunInput!, $withAt: Boolean!, $noNode: Boolean!) {
  runFlow(input: $input) {
    seq at @include(if: $withAt)
    ... on NodeStatusChanged @skip(if: $noNode) { nodeId }
    ... on NodeOutputDelta { nodeId @skip(if: $noNode) delta @include(if: true) }
    ... @include(if: $withAt) { __typename }
  }
}"""

RUN_EVENTS = """subscription($runId: ID!, $after: Int!) { runEvents(runId: $runId, afterSeq: $after) {
  seq ... on NodeCompleted { output } ... on RunCompleted { outputs } ... on RunFailed { error }
} }"""

CASES = [
    pytest.param(FULL, {}, id="fragments"),
    pytest.param(ALIASED, {}, id="aliases-typename-named-fragments"),
    pytest.param(DIRECTIVES, {"withAt": True, "noNode": False}, id="include-skip-1"),
    pytest.param(DIRECTIVES, {"withAt": False, "noNode": True}, id="include-skip-2"),
    pytest.param("subscription($input: RunInput!) { runFlow(input: $input) { seq } }", {}, id="interface-only"),
    pytest.param(RUN_EVENTS, {"runId": RUN_ID, "after": 2}, id="run-events"),
]


@pytest.mark.parametrize(("query", "variables"), CASES)
@pytest.mark.parametrize("terminal", [0, 1], ids=["failed", "cancelled"])
async def test_events_execute_as_strawberry_executes_them(query: str, variables: dict[str, Any], terminal: int) -> None:
    sent = [*every_event(), terminal_variants()[terminal]]
    if "input" in query:
        variables = {**variables, "input": {"graph": {}}}
    ours = await results(build_schema(), query, variables, sent)
    expected = await results(reference_schema(), query, variables, sent)
    assert ours == expected
    assert len(ours) == len(sent) - variables.get("after", 0)


async def test_subscriptions_of_one_schema_share_plans_and_each_gets_its_own_selection() -> None:
    ours, reference = build_schema(), reference_schema()
    sent = [*every_event(), terminal_variants()[0]]
    for query, variables in [(case.values[0], case.values[1]) for case in CASES] * 2:
        assert isinstance(query, str) and isinstance(variables, dict)
        variables = {**variables, "input": {}} if "input" in query else variables
        assert await results(ours, query, variables, sent) == await results(reference, query, variables, sent)


async def test_a_value_graphql_core_refuses_is_its_error_and_the_other_events_go_on() -> None:
    sent = every_event()
    got = await results(build_schema(), FULL, {"input": {}}, sent)
    refused = [(data, errors) for data, errors, _ in got if errors]
    assert refused == [(None, [{
        "message": "Internal server error",  # masked, as every unexpected error is
        "locations": [{"line": 5, "column": 28}],
        "path": ["runFlow", "nodeId"],
        "extensions": {"code": "INTERNAL"},
    }])]
    assert [data["runFlow"]["seq"] for data, errors, _ in got if not errors] == [1, 2, 3, 4, 5, 6, 7, 9, 10]


class _BrokenDelta(runs_types.NodeOutputDelta):
    """An event whose `delta` cannot be read: graphql-core reports it on that field."""

    @property
    def delta(self) -> str:  # type: ignore[override]
        raise ValueError("unreadable")


async def _later() -> str:
    return "awaited"


def _odd_events(event: Any) -> Any:
    made = runs_types.run_event(event)
    if isinstance(made, runs_types.NodeOutputDelta) and event.seq == 4:
        broken = object.__new__(_BrokenDelta)
        for name in ("run_id", "seq", "at", "node_id"):
            setattr(broken, name, getattr(made, name))
        return broken
    if isinstance(made, runs_types.NodeOutputDelta) and event.seq == 5:
        made.delta = _later()  # type: ignore[assignment]  # an awaitable value: graphql-core awaits it
    return made


async def test_a_field_that_fails_or_must_be_awaited_is_executed_by_graphql_core(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(resolvers.runs, "run_event", _odd_events)
    sent = every_event()[:7]
    ours = await results(build_schema(), FULL, {"input": {}}, sent)
    assert ours == await results(reference_schema(), FULL, {"input": {}}, sent)
    assert [(data, errors[0]["path"]) for data, errors, _ in ours if errors] == [(None, ["runFlow", "delta"])]
    assert ours[4][0] == {"runFlow": {"__typename": "NodeOutputDelta", "runId": RUN_ID, "seq": 5,
                                      "at": AT.isoformat(), "nodeId": "a", "delta": "awaited"}}


NOTIFICATIONS = """subscription { notifications {
  __typename id eventName payload projectId sessionId createdAt
  again: eventName ... on Notification { id }
} }"""


async def test_notifications_execute_as_strawberry_executes_them() -> None:
    sent = [
        DomainEvent(name="project.created", payload={"name": "A", "n": [1, None]}, user_id=1, project_id=3),
        DomainEvent(name="flow.updated", payload={}, user_id=1, session_id="s-1", created_at=AT),
    ]
    ours = await results(build_schema(), NOTIFICATIONS, {}, sent, limit=len(sent))
    assert ours == await results(reference_schema(), NOTIFICATIONS, {}, sent, limit=len(sent))
    assert [data["notifications"]["eventName"] for data, _, _ in ours] == ["project.created", "flow.updated"]


class _CountsResolves(SchemaExtension):
    resolved: list[str] = []

    def resolve(self, _next: Any, root: Any, info: Any, *args: Any, **kwargs: Any) -> Any:
        self.resolved.append(info.field_name)
        return _next(root, info, *args, **kwargs)


async def test_an_extension_that_resolves_fields_sees_every_field_of_every_event() -> None:
    sent = every_event()[:4]
    ours = build_schema()
    ours.extensions = (*ours.extensions, _CountsResolves)
    _CountsResolves.resolved = []
    assert await results(ours, FULL, {"input": {}}, sent) == await results(reference_schema(), FULL, {"input": {}}, sent)
    assert _CountsResolves.resolved.count("seq") == len(sent)
    assert _CountsResolves.resolved.count("delta") == 1


class _StreamResults(SchemaExtension):
    seen: list[int] = []

    def on_stream_result(self, result: Any) -> Iterator[None]:
        self.seen.append(result.data["runFlow"]["seq"])
        yield

    def get_results(self) -> dict[str, Any]:
        return {"seen": len(self.seen)}


async def test_stream_result_hooks_and_extension_results_come_with_every_event() -> None:
    sent = every_event()[:3]
    ours = build_schema()
    ours.extensions = (*ours.extensions, _StreamResults)
    _StreamResults.seen = []
    got = await results(ours, "subscription { runFlow(input: {}) { seq } }", {}, sent)
    assert _StreamResults.seen == [1, 2, 3]
    assert [extensions for _, _, extensions in got] == [{"seen": 0}, {"seen": 1}, {"seen": 2}]


async def test_what_a_subscription_keeps_does_not_grow_with_its_events() -> None:
    ours = build_schema()
    executors: list[Any] = []

    class Recorded(ours.execution_context_class):  # type: ignore[name-defined]
        def build_per_event_executor(self, payload: Any) -> Any:
            executors.append(self)
            return super().build_per_event_executor(payload)

    ours.execution_context_class = Recorded
    common: dict[str, Any] = {"run_id": RUN_ID, "at": AT, "node_id": "a"}
    sent = [events.NodeOutputDelta(seq=seq, delta="x", **common) for seq in range(1, 201)]
    got = await results(ours, FULL, {"input": {}}, sent)
    assert len(got) == 200 and not any(errors for _, errors, _ in got)
    subscription = executors[0]
    assert all(executor is subscription for executor in executors)
    # graphql-core's memo of sub-fields and our plans: one entry for the one type of event.
    assert len(collected_sub_fields(subscription)) == 1
    assert len(subscription._leaf_plans) == 1


def plans_of(schema: strawberry.Schema) -> KnownPlans:
    executor = schema.execution_context_class
    assert executor is not None and issubclass(executor, EventExecutor)
    return cast("type[EventExecutor]", executor).known_plans


async def test_two_schemas_in_one_process_keep_their_own_plans_and_hook_kinds() -> None:
    first, second = build_schema(), build_schema()
    await results(first, FULL, {"input": {}}, every_event()[:3])
    assert len(plans_of(first)) > 0
    assert len(first.hook_kinds) > 0
    assert len(plans_of(second)) == 0
    assert len(second.hook_kinds) == 0
