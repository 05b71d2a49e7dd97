"""Prometheus metrics: the metric objects, registered explicitly on one registry (served at
/metrics by web.probes), and small functions that record them.

Label values are bounded: operations are named by their root field (a field of the schema),
outcomes by a short fixed word or an error code, providers by their catalog id.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from contextlib import aclosing
from datetime import UTC, datetime
from typing import Protocol, TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

from services.execution.providers.base import GeneratedImage, ImageProvider, ImageRequest, TextProvider, TextRequest
from services.execution.providers.registry import ProviderRegistry

T = TypeVar("T")

REGISTRY = CollectorRegistry()
ProcessCollector(registry=REGISTRY)
PlatformCollector(registry=REGISTRY)
GCCollector(registry=REGISTRY)

REQUESTS = Counter(
    "graphql_requests",
    "GraphQL operations, by root field and outcome (ok, or the first error's code).",
    ["operation", "outcome"],
    registry=REGISTRY,
)
REQUEST_SECONDS = Histogram(
    "graphql_request_duration_seconds",
    "How long queries and mutations took to answer, by root field (subscriptions are not timed).",
    ["operation"],
    registry=REGISTRY,
)
LIVE_RUNS = Gauge("flow_runs_live", "Runs going on in this process.", registry=REGISTRY)
EVENTS_DELIVERED = Counter(
    "flow_run_events_delivered", "Run events sent to followers (runFlow, runEvents).", registry=REGISTRY
)
PROVIDER_CALLS = Counter(
    "flow_provider_calls",
    "Provider calls (retries included in one call), by provider and outcome (ok, error, cancelled).",
    ["provider", "outcome"],
    registry=REGISTRY,
)
PROVIDER_SECONDS = Histogram(
    "flow_provider_call_duration_seconds",
    "How long provider calls took, to the last streamed piece, by provider and outcome.",
    ["provider", "outcome"],
    buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40, 80, 160),
    registry=REGISTRY,
)
BATCH_EVENTS = Histogram(
    "flow_run_log_batch_events",
    "Run events stored per group commit of the run log.",
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000),
    registry=REGISTRY,
)
BATCH_LAG = Histogram(
    "flow_run_log_lag_seconds",
    "From an event's creation to its batch being stored (the oldest event of each batch).",
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
    registry=REGISTRY,
)


class TimedEvent(Protocol):
    @property
    def at(self) -> datetime: ...


# The labelled children, found once (labels() takes a lock and builds a key every time);
# bounded as the label values are.
_requests: dict[tuple[str, str], Counter] = {}
_request_seconds: dict[str, Histogram] = {}


def record_operation(operation: str, outcome: str, seconds: float | None) -> None:
    counter = _requests.get((operation, outcome))
    if counter is None:
        counter = _requests[(operation, outcome)] = REQUESTS.labels(operation, outcome)
    counter.inc()
    if seconds is not None:
        histogram = _request_seconds.get(operation)
        if histogram is None:
            histogram = _request_seconds[operation] = REQUEST_SECONDS.labels(operation)
        histogram.observe(seconds)


def run_started() -> None:
    LIVE_RUNS.inc()


def run_ended() -> None:
    LIVE_RUNS.dec()


async def delivered(events: AsyncIterator[T]) -> AsyncGenerator[T, None]:
    """`events`, counted as they go out to a follower."""
    async with aclosing(events):  # type: ignore[type-var]
        async for event in events:
            EVENTS_DELIVERED.inc()
            yield event


def batch_stored(events: Sequence[TimedEvent]) -> None:
    if not events:
        return
    BATCH_EVENTS.observe(len(events))
    oldest = min(event.at for event in events)
    BATCH_LAG.observe(max(0.0, (datetime.now(UTC) - oldest).total_seconds()))


def provider_call(provider: str, outcome: str, seconds: float) -> None:
    PROVIDER_CALLS.labels(provider, outcome).inc()
    PROVIDER_SECONDS.labels(provider, outcome).observe(seconds)


class MeasuredProviderRegistry(ProviderRegistry):
    """The provider registry, with every call counted and timed (the engine stays unaware)."""

    def text(self, provider_id: str) -> TextProvider:
        return _MeasuredText(super().text(provider_id), provider_id)

    def image(self, provider_id: str) -> ImageProvider:
        return _MeasuredImage(super().image(provider_id), provider_id)


class _MeasuredText:
    def __init__(self, provider: TextProvider, provider_id: str) -> None:
        self._provider = provider
        self._provider_id = self.id = provider_id

    async def stream_text(self, request: TextRequest) -> AsyncGenerator[str, None]:
        started, outcome = time.perf_counter(), "error"
        try:
            async with aclosing(self._provider.stream_text(request)) as pieces:
                async for piece in pieces:
                    yield piece
            outcome = "ok"
        except Exception:
            outcome = "error"
            raise
        except BaseException:  # cancelled, or closed early (GeneratorExit)
            outcome = "cancelled"
            raise
        finally:
            provider_call(self._provider_id, outcome, time.perf_counter() - started)


class _MeasuredImage:
    def __init__(self, provider: ImageProvider, provider_id: str) -> None:
        self._provider = provider
        self._provider_id = self.id = provider_id

    async def generate_image(self, request: ImageRequest) -> GeneratedImage:
        started, outcome = time.perf_counter(), "cancelled"
        try:
            image = await self._provider.generate_image(request)
            outcome = "ok"
            return image
        except Exception:
            outcome = "error"
            raise
        finally:
            provider_call(self._provider_id, outcome, time.perf_counter() - started)
