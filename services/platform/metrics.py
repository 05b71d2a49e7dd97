"""Prometheus metrics: each backend's `Metrics`, its metric objects registered explicitly on a
registry of its own (served at that app's /metrics by web.probes), and the methods that record
them.

Label values are bounded: operations are named by their root field (a field of the schema),
outcomes by a short fixed word or an error code, providers by their catalog id.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, AsyncIterator, Mapping, Sequence
from contextlib import aclosing
from datetime import UTC, datetime
from typing import Protocol, TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

from services.execution.providers.base import GeneratedImage, ImageProvider, ImageRequest, TextProvider, TextRequest
from services.execution.providers.known import ProviderSettings
from services.execution.providers.registry import ProviderRegistry
from services.execution.providers.retry import RetryPolicy

T = TypeVar("T")


class TimedEvent(Protocol):
    @property
    def at(self) -> datetime: ...


class Metrics:
    """One backend's metrics, on a registry of its own (two apps in one process count apart).

    The labelled children are found once and kept (labels() takes a lock and builds a key every
    time); they are bounded as the label values are."""

    def __init__(self) -> None:
        self.registry = registry = CollectorRegistry()
        ProcessCollector(registry=registry)
        PlatformCollector(registry=registry)
        GCCollector(registry=registry)
        self._requests = Counter(
            "graphql_requests",
            "GraphQL operations, by root field and outcome (ok, or the first error's code).",
            ["operation", "outcome"],
            registry=registry,
        )
        self._request_seconds = Histogram(
            "graphql_request_duration_seconds",
            "How long queries and mutations took to answer, by root field (subscriptions are not timed).",
            ["operation"],
            registry=registry,
        )
        self._live_runs = Gauge("flow_runs_live", "Runs going on in this process.", registry=registry)
        self._events_delivered = Counter(
            "flow_run_events_delivered", "Run events sent to followers (runFlow, runEvents).", registry=registry
        )
        self._provider_calls = Counter(
            "flow_provider_calls",
            "Provider calls (retries included in one call), by provider and outcome (ok, error, cancelled).",
            ["provider", "outcome"],
            registry=registry,
        )
        self._provider_seconds = Histogram(
            "flow_provider_call_duration_seconds",
            "How long provider calls took, to the last streamed piece, by provider and outcome.",
            ["provider", "outcome"],
            buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40, 80, 160),
            registry=registry,
        )
        self._batch_events = Histogram(
            "flow_run_log_batch_events",
            "Run events stored per group commit of the run log.",
            buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000),
            registry=registry,
        )
        self._batch_lag = Histogram(
            "flow_run_log_lag_seconds",
            "From an event's creation to its batch being stored (the oldest event of each batch).",
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=registry,
        )
        self._operation_counts: dict[tuple[str, str], Counter] = {}
        self._operation_seconds: dict[str, Histogram] = {}
        self._provider_children: dict[tuple[str, str], tuple[Counter, Histogram]] = {}

    def record_operation(self, operation: str, outcome: str, seconds: float | None) -> None:
        counter = self._operation_counts.get((operation, outcome))
        if counter is None:
            counter = self._operation_counts[(operation, outcome)] = self._requests.labels(operation, outcome)
        counter.inc()
        if seconds is not None:
            histogram = self._operation_seconds.get(operation)
            if histogram is None:
                histogram = self._operation_seconds[operation] = self._request_seconds.labels(operation)
            histogram.observe(seconds)

    def run_started(self) -> None:
        self._live_runs.inc()

    def run_ended(self) -> None:
        self._live_runs.dec()

    async def delivered(self, events: AsyncIterator[T]) -> AsyncGenerator[T, None]:
        """`events`, counted as they go out to a follower."""
        count = self._events_delivered.inc
        async with aclosing(events):  # type: ignore[type-var]
            async for event in events:
                count()
                yield event

    def batch_stored(self, events: Sequence[TimedEvent]) -> None:
        if not events:
            return
        self._batch_events.observe(len(events))
        oldest = min(event.at for event in events)
        self._batch_lag.observe(max(0.0, (datetime.now(UTC) - oldest).total_seconds()))

    def provider_call(self, provider: str, outcome: str, seconds: float) -> None:
        children = self._provider_children.get((provider, outcome))
        if children is None:
            children = self._provider_children[(provider, outcome)] = (
                self._provider_calls.labels(provider, outcome),
                self._provider_seconds.labels(provider, outcome),
            )
        calls, call_seconds = children
        calls.inc()
        call_seconds.observe(seconds)


class MeasuredProviderRegistry(ProviderRegistry):
    """The provider registry, with every call counted and timed in `metrics` (the engine stays
    unaware)."""

    def __init__(
        self,
        settings: Mapping[str, ProviderSettings],
        *,
        metrics: Metrics,
        concurrency: int,
        policy: RetryPolicy | None = None,
    ) -> None:
        super().__init__(settings, concurrency=concurrency, policy=policy or RetryPolicy())
        self._metrics = metrics

    def text(self, provider_id: str) -> TextProvider:
        return _MeasuredText(super().text(provider_id), provider_id, self._metrics)

    def image(self, provider_id: str) -> ImageProvider:
        return _MeasuredImage(super().image(provider_id), provider_id, self._metrics)


class _MeasuredText:
    def __init__(self, provider: TextProvider, provider_id: str, metrics: Metrics) -> None:
        self._provider = provider
        self._provider_id = self.id = provider_id
        self._metrics = metrics

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
            self._metrics.provider_call(self._provider_id, outcome, time.perf_counter() - started)


class _MeasuredImage:
    def __init__(self, provider: ImageProvider, provider_id: str, metrics: Metrics) -> None:
        self._provider = provider
        self._provider_id = self.id = provider_id
        self._metrics = metrics

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
            self._metrics.provider_call(self._provider_id, outcome, time.perf_counter() - started)
