"""What operators see: Prometheus metrics at /metrics, and OpenTelemetry spans (an in-memory
exporter stands for a collector)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy.ext.asyncio import AsyncEngine

from services.platform.settings import Settings
from services.platform.telemetry import tracer_provider_from_environment
from tests.api.metrics_scrape import scrape, value
from tests.api.run_client import example, run_over_websocket
from tests.api_fixtures import provider_settings
from tests.fakes.providers import FakeProviderState, SlowChunks
from tests.fakes.server import serve_app
from tests.graphql_client import GraphQLClient
from tests.waiting import wait_until
from web.app import create_app


@pytest.fixture
def settings(database_url: str, workdir: Path, provider_url: str) -> Settings:
    return provider_settings(database_url, workdir, provider_url)


async def test_the_metrics_move_when_a_run_happens(live_server: str, live_api: GraphQLClient) -> None:
    alice = await live_api.signup("alice")
    before = await scrape(live_api.http)

    events = await run_over_websocket(live_server, alice, {"graph": example("story-flow.json"), "providerId": "mistral"})
    await live_api.execute("{ me { username } }", token=alice.access_token)
    await live_api.execute("{ flow(id: \"nope\") { id } }", token=alice.access_token)
    after = await scrape(live_api.http)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("graphql_requests_total", operation="runFlow", outcome="ok") == 1
    assert moved("graphql_requests_total", operation="me", outcome="ok") == 1
    assert moved("graphql_requests_total", operation="flow", outcome="NOT_FOUND") == 1
    assert moved("graphql_request_duration_seconds_count", operation="me") == 1
    assert moved("flow_run_events_delivered_total") >= len(events)
    assert moved("flow_provider_calls_total", provider="mistral", outcome="ok") == 5
    assert moved("flow_provider_call_duration_seconds_count", provider="mistral", outcome="ok") == 5
    assert moved("flow_run_log_batch_events_sum") >= len(events)
    assert moved("flow_run_log_lag_seconds_count") >= 1
    assert value(after, "flow_runs_live") == 0


async def test_live_runs_are_counted_while_they_go(
    live_server: str, live_api: GraphQLClient, fake_providers: FakeProviderState
) -> None:
    alice = await live_api.signup("alice")
    fake_providers.fail_next(*[SlowChunks(seconds=0.5)] * 5)
    before = value(await scrape(live_api.http), "flow_runs_live")
    started = await live_api.execute(
        "mutation($input: RunInput!) { startRun(input: $input) { id } }",
        {"input": {"graph": example("story-flow.json"), "providerId": "mistral"}},
        token=alice.access_token,
    )
    run_id = started.ok()["startRun"]["id"]

    assert value(await scrape(live_api.http), "flow_runs_live") == before + 1
    await live_api.execute("mutation($id: ID!) { cancelRun(id: $id) { id } }", {"id": run_id}, token=alice.access_token)
    assert value(await scrape(live_api.http), "flow_runs_live") == before


@pytest.fixture
def spans() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
async def traced_server(settings: Settings, engine: AsyncEngine, spans: InMemorySpanExporter) -> AsyncIterator[str]:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    application = create_app(settings, tracer_provider=provider)
    async with application.router.lifespan_context(application), serve_app(application) as base_url:
        yield base_url


async def test_operations_runs_and_nodes_make_spans(traced_server: str, spans: InMemorySpanExporter) -> None:
    async with httpx.AsyncClient(base_url=traced_server) as http:
        alice = await GraphQLClient(http).signup("alice")
    events = await run_over_websocket(traced_server, alice, {"graph": example("story-flow.json"), "providerId": "mistral"})

    def ended(*names: str) -> bool:
        return set(names) <= {span.name for span in spans.get_finished_spans()}

    # The subscription (an operation without a name) ends its span as its socket closes.
    await wait_until(lambda: ended("run", "GraphQL Query"), what="the run's and the subscription's spans")

    finished: list[ReadableSpan] = list(spans.get_finished_spans())
    runs = [span for span in finished if span.name == "run"]
    assert len(runs) == 1 and runs[0].attributes is not None
    assert runs[0].attributes["flow.run.id"] == events[0]["runId"]
    nodes = {span.name: span for span in finished if span.name.startswith("node ")}
    assert {"node enhance", "node story", "node french", "node polish"} <= set(nodes)
    for span in nodes.values():
        assert span.parent is not None and span.parent.span_id == runs[0].context.span_id
        assert span.start_time is not None and span.end_time is not None and span.start_time <= span.end_time
    assert any(span.name.startswith("GraphQL Query") for span in finished), "Strawberry's operation spans"


def test_tracing_is_off_unless_the_otel_settings_ask_for_it() -> None:
    assert tracer_provider_from_environment({}) is None
    assert tracer_provider_from_environment({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://x"}) is None
    provider = tracer_provider_from_environment({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"})
    assert provider is not None
    provider.shutdown()


async def test_a_request_that_does_not_parse_is_counted_as_unknown(api: GraphQLClient) -> None:
    before = await scrape(api.http)
    await api.execute("{ me { ")
    after = await scrape(api.http)

    key = ("graphql_requests_total", frozenset({"operation": "unknown", "outcome": "BAD_USER_INPUT"}.items()))
    assert after[key] - before.get(key, 0.0) == 1
