"""Two apps in one process share nothing of their state: each counts its own metrics at its own
/metrics, sends its spans to its own tracer provider, and has its own event handlers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from services.events.handlers import event_handlers, log_event, notify_subscribers, share_with_other_processes
from services.platform.settings import Settings
from tests.api.metrics_scrape import Samples, scrape, value
from tests.api.run_client import example, run_over_websocket
from tests.api_fixtures import provider_settings
from tests.fakes.server import serve_app
from tests.graphql_client import GraphQLClient
from web.app import create_app


@dataclass
class ServedApp:
    app: Starlette
    url: str
    api: GraphQLClient
    spans: InMemorySpanExporter


@pytest.fixture
async def two_apps(
    database_url: str, workdir: Path, provider_url: str, engine: AsyncEngine
) -> AsyncIterator[tuple[ServedApp, ServedApp]]:
    """The test database's app, and a second one on an embedded database of its own."""
    (workdir / "second").mkdir()
    first = provider_settings(database_url, workdir, provider_url)
    second = provider_settings("", workdir / "second", provider_url)
    async with served(first) as first_app, served(second) as second_app:
        yield first_app, second_app


@asynccontextmanager
async def served(settings: Settings) -> AsyncIterator[ServedApp]:
    """The app behind uvicorn, its spans going to an in-memory exporter of its own."""
    spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    app = create_app(settings, tracer_provider=provider)
    async with app.router.lifespan_context(app), serve_app(app) as url, httpx.AsyncClient(base_url=url) as http:
        yield ServedApp(app, url, GraphQLClient(http), spans)


def app_samples(samples: Samples) -> Samples:
    """The samples the app records (the process collectors' move by themselves)."""
    return {key: sample for key, sample in samples.items() if key[0].startswith(("graphql_", "flow_"))}


async def test_one_apps_operations_and_runs_do_not_move_the_others_metrics(two_apps: tuple[ServedApp, ServedApp]) -> None:
    first, second = two_apps
    first_before, second_before = await scrape(first.api.http), await scrape(second.api.http)

    alice = await first.api.signup("alice")
    await run_over_websocket(first.url, alice, {"graph": example("story-flow.json"), "providerId": "mistral"})
    await first.api.execute("{ me { username } }", token=alice.access_token)

    first_after = await scrape(first.api.http)
    assert value(first_after, "graphql_requests_total", operation="me", outcome="ok") - value(
        first_before, "graphql_requests_total", operation="me", outcome="ok"
    ) == 1
    assert value(first_after, "flow_provider_calls_total", provider="mistral", outcome="ok") - value(
        first_before, "flow_provider_calls_total", provider="mistral", outcome="ok"
    ) == 5
    assert app_samples(await scrape(second.api.http)) == app_samples(second_before)


async def test_each_apps_tracer_provider_gets_only_its_own_spans(two_apps: tuple[ServedApp, ServedApp]) -> None:
    first, second = two_apps
    alice = await first.api.signup("alice")
    events = await run_over_websocket(first.url, alice, {"graph": example("story-flow.json"), "providerId": "mistral"})
    await second.api.execute("{ health { status } }")

    first_names = [span.name for span in first.spans.get_finished_spans()]
    second_names = [span.name for span in second.spans.get_finished_spans()]
    runs = [span for span in first.spans.get_finished_spans() if span.name == "run"]
    assert len(runs) == 1 and runs[0].attributes is not None and runs[0].attributes["flow.run.id"] == events[0]["runId"]
    assert "signup" in resolved(first_names) and "health" not in resolved(first_names)
    assert resolved(second_names) == {"health"}
    assert not [name for name in second_names if name == "run" or name.startswith("node ")]


def resolved(span_names: list[str]) -> set[str]:
    """The fields whose resolvers the spans show."""
    return {name.removeprefix("GraphQL Resolving: ") for name in span_names if name.startswith("GraphQL Resolving: ")}


async def test_each_app_has_event_handlers_of_its_own(two_apps: tuple[ServedApp, ServedApp]) -> None:
    first, second = two_apps
    assert first.app.state.backend.bus.handlers is not second.app.state.backend.bus.handlers


def test_every_event_is_handled_by_the_table_event_handlers_builds() -> None:
    handlers = event_handlers()
    assert handlers.for_event("project.created") == [notify_subscribers, share_with_other_processes, log_event]
    assert event_handlers() is not handlers, "each call builds a table of its own: importing registers nothing"
