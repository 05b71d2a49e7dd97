"""Strawberry, graphql-core, uvicorn and procrastinate still do what the code takes from them beyond
their documented API (schema/strawberry_internals.py, schema/graphql_core_internals.py,
web/uvicorn_internals.py, services/runs/procrastinate_internals.py). A failure names the library,
its version and the module to mend. (The SDKs': tests/execution/test_sdk_internals.py.)"""

from __future__ import annotations

import asyncio
import importlib.metadata
import inspect
import signal
from collections.abc import Callable
from typing import Any

import procrastinate
import pytest
import strawberry
import uvicorn
from graphql import Executor, parse, validate
from procrastinate.testing import InMemoryConnector
from strawberry.extensions import SchemaExtension
from strawberry.extensions.runner import SchemaExtensionsRunner
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from schema import graphql_core_internals, strawberry_internals
from schema.execution import EventExecutor, KnownPlans
from schema.query_limits import bounded_merge_rule
from schema.root import build_schema
from services.runs import procrastinate_internals
from web import uvicorn_internals
from web.view import GraphQLView


def require(library: str, module: str, holds: bool, what: str) -> None:
    if not holds:
        version = importlib.metadata.version(library)
        pytest.fail(f"{library} {version}: {what}: see {module}")


def strawberry_fact(holds: bool, what: str) -> None:
    require("strawberry-graphql", "schema/strawberry_internals.py", holds, what)


def graphql_core_fact(holds: bool, what: str) -> None:
    require("graphql-core", "schema/graphql_core_internals.py", holds, what)


def uvicorn_fact(holds: bool, what: str) -> None:
    require("uvicorn", "web/uvicorn_internals.py", holds, what)


def procrastinate_fact(holds: bool, what: str) -> None:
    require("procrastinate", "services/runs/procrastinate_internals.py", holds, what)


def parameters(function: Callable[..., Any]) -> tuple[str, ...]:
    return tuple(inspect.signature(function).parameters)


RESOLVED: list[str] = []


@strawberry.type
class _Query:
    @strawberry.field
    def greeting(self, info: strawberry.Info) -> str:
        RESOLVED.append(strawberry_internals.resolve_info(info).field_name)
        return "hi"


# --- Strawberry ---------------------------------------------------------------------------------


def test_strawberry_schema_holds_the_graphql_core_schema_it_built() -> None:
    schema = build_schema()
    built = getattr(schema, "_schema", None)
    strawberry_fact(built is not None and built.query_type is not None, "Schema._schema is not the graphql-core schema")
    strawberry_fact(strawberry_internals.graphql_schema(schema) is built, "graphql_schema() does not read Schema._schema")


def test_strawberry_info_wraps_graphql_cores_resolve_info() -> None:
    RESOLVED.clear()
    result = strawberry.Schema(query=_Query).execute_sync("{ greeting }")
    strawberry_fact(not result.errors and RESOLVED == ["greeting"], f"Info._raw_info is gone ({result.errors})")


def test_strawberry_view_knows_its_streaming_transports() -> None:
    view = GraphQLView(build_schema())
    transports = getattr(view, "_stream_transport_map", None)
    strawberry_fact(isinstance(transports, dict), "BaseView._stream_transport_map is no longer a dict of transports")
    strawberry_fact(strawberry_internals.serves_streams(view) == bool(transports), "serves_streams() disagrees")


class _StreamResults(SchemaExtension):
    seen: list[object] = []

    def on_stream_result(self, result: Any) -> Any:
        self.seen.append(result)
        yield


async def test_strawberry_stream_result_hooks_can_be_found_once_and_entered_per_result() -> None:
    hooks = strawberry_internals.stream_result_hooks([_StreamResults(), SchemaExtension()])
    strawberry_fact(len(hooks) == 1, f"StreamResultContextManager found {len(hooks)} hooks of one extension")
    _StreamResults.seen = []
    result = object()
    async with strawberry_internals.StreamResultHooks(hooks, result):  # type: ignore[arg-type]
        pass
    strawberry_fact(_StreamResults.seen == [result], "StreamResultContextManager no longer enters hook.hook(result)")


def test_strawberry_runner_and_schema_have_the_hooks_our_runner_overrides() -> None:
    for stage in ("operation", "parsing", "validation", "executing", "on_stream_result", "get_extensions_results"):
        strawberry_fact(callable(getattr(SchemaExtensionsRunner, stage, None)), f"SchemaExtensionsRunner.{stage} is gone")
    strawberry_fact(
        parameters(SchemaExtensionsRunner.__init__) == ("self", "execution_context", "extensions"),
        f"SchemaExtensionsRunner.__init__ takes {parameters(SchemaExtensionsRunner.__init__)}",
    )
    strawberry_fact(
        parameters(strawberry.Schema.create_extensions_runner) == ("self", "execution_context", "extensions"),
        "Schema.create_extensions_runner changed",
    )


# --- graphql-core -------------------------------------------------------------------------------


def test_graphql_core_executor_has_the_methods_event_executor_overrides() -> None:
    for name, expected in graphql_core_internals.EVENT_EXECUTOR_METHODS.items():
        method = getattr(StrawberryGraphQLCoreExecutionContext, name, None)
        graphql_core_fact(method is not None, f"the executor has no {name}")
        assert method is not None
        graphql_core_fact(parameters(method) == expected, f"{name} takes {parameters(method)}, not {expected}")
    for attribute in ("middleware_manager", "abort_signal", "type_resolver", "collected_errors", "root_value", "operation"):
        graphql_core_fact(attribute in inspect.getsource(Executor.__init__), f"the executor no longer sets {attribute}")


SCHEMA_SDL = "type Query { dummy: String } type Subscription { greeting: String }"


def test_graphql_core_per_event_executor_is_a_shallow_copy_sharing_the_sub_field_memo() -> None:
    from graphql import build_schema as build_sdl

    executor = Executor.build(build_sdl(SCHEMA_SDL), parse("subscription { greeting }"))
    assert isinstance(executor, Executor)
    theirs = executor.build_per_event_executor({"greeting": "hi"})
    different = {name for name, value in vars(executor).items() if vars(theirs).get(name) is not value}
    graphql_core_fact(
        different == {"root_value", "collected_errors"} and vars(theirs).keys() == vars(executor).keys(),
        f"build_per_event_executor now also changes {sorted(different)} (EventExecutor copies it itself)",
    )
    graphql_core_fact(
        graphql_core_internals.collected_sub_fields(theirs) is graphql_core_internals.collected_sub_fields(executor),
        "the per-event copies no longer share _relevant_sub_fields",
    )


def test_graphql_core_merge_rule_spends_a_budget_we_can_set() -> None:
    document = parse("{ " + " ".join("health { status }" for _ in range(40)) + " }")
    schema = strawberry_internals.graphql_schema(build_schema())
    errors = validate(schema, document, [bounded_merge_rule(10)])
    graphql_core_fact(
        len(errors) == 1 and "MAX_QUERY_FIELD_COMPARISONS" in errors[0].message,
        f"OverlappingFieldsCanBeMergedRule ignored rule_context.remaining_complexity_budget ({errors})",
    )


def test_event_executors_of_two_schemas_share_no_plans() -> None:
    first, second = EventExecutor.for_schema(KnownPlans()), EventExecutor.for_schema(KnownPlans())
    assert first.known_plans is not second.known_plans


# --- uvicorn ------------------------------------------------------------------------------------


def test_uvicorn_http_protocol_has_what_the_header_deadline_extends() -> None:
    protocol = uvicorn_internals.http_protocol_class()
    for name, expected in (("connection_made", ("self", "transport")), ("connection_lost", ("self", "exc"))):
        uvicorn_fact(parameters(getattr(protocol, name)) == expected, f"{protocol.__name__}.{name} changed")
    uvicorn_fact(callable(getattr(protocol, "handle_websocket_upgrade", None)), "handle_websocket_upgrade is gone")
    uvicorn_fact("self.app = config.loaded_app" in inspect.getsource(protocol.__init__), "the protocol no longer keeps app")
    reads_app = "app = self.app" in inspect.getsource(protocol)
    uvicorn_fact(reads_app, f"{protocol.__name__} no longer reads self.app for each request")


def test_uvicorn_raises_the_signals_it_captured_once_stopped() -> None:
    server = uvicorn.Server(uvicorn.Config(app="main:app"))
    uvicorn_fact(getattr(server, "_captured_signals", None) == [], "Server._captured_signals is gone")
    uvicorn_internals.capture_signal(server, signal.SIGTERM)
    uvicorn_fact(server._captured_signals == [signal.SIGTERM], "capture_signal() did not capture")
    re_raises = "self._captured_signals" in inspect.getsource(uvicorn.Server.capture_signals)
    uvicorn_fact(re_raises, "Server.capture_signals no longer re-raises the captured signals")


# --- procrastinate ------------------------------------------------------------------------------


async def test_procrastinate_worker_outlives_a_failed_heartbeat_with_our_job_manager() -> None:
    connector = InMemoryConnector()
    app = procrastinate.App(connector=connector)
    procrastinate_internals.forgive_heartbeat_failures(app)
    beats: list[int] = []
    third_beat = asyncio.Event()
    original = connector.update_heartbeat_run

    async def first_fails(worker_id: int) -> None:
        beats.append(worker_id)
        if len(beats) == 3:
            third_beat.set()
        if len(beats) == 1:
            raise OSError("database away")
        await original(worker_id)

    connector.update_heartbeat_run = first_fails  # type: ignore[method-assign]
    async with app.open_async():
        worker = asyncio.create_task(app.run_worker_async(install_signal_handlers=False, update_heartbeat_interval=0.01))
        beaten = asyncio.create_task(third_beat.wait())
        try:
            # Whichever comes first: a third heartbeat, or the worker stopping.
            await asyncio.wait({worker, beaten}, timeout=30, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (worker, beaten):
                task.cancel()
            await asyncio.gather(worker, beaten, return_exceptions=True)
    procrastinate_fact(len(beats) >= 3, f"the worker stopped after heartbeats {beats} (Worker._update_heartbeat changed)")
    procrastinate_fact(
        isinstance(app.job_manager, procrastinate_internals.HeartbeatTolerantJobManager), "App.job_manager was replaced"
    )
