"""OpenTelemetry traces: the tracer provider the standard OTEL_* variables ask for (none when
they are unset), and a span per run with a child span per node, built from the run's events.

GraphQL operations get their spans from Strawberry's OpenTelemetryExtension (schema.root).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.trace import Span, Status, StatusCode, Tracer

from services.execution import events as run_events
from services.execution.events import NodeStatus, RunEvent

logger = logging.getLogger(__name__)

SERVICE_NAME = "flow-backend"
ENDED_STATES = (NodeStatus.CACHED, NodeStatus.SKIPPED, NodeStatus.CANCELLED)


def tracer_provider_from_environment(env: Mapping[str, str]) -> TracerProvider | None:
    """OTEL_TRACES_EXPORTER (otlp or console; none turns tracing off), or an OTLP endpoint
    (OTEL_EXPORTER_OTLP_ENDPOINT / _TRACES_ENDPOINT, read by the exporter with its other
    OTEL_EXPORTER_OTLP_* settings). Nothing set: no tracing."""
    exporter_name = (env.get("OTEL_TRACES_EXPORTER") or "").strip().lower()
    if exporter_name == "none" or env.get("OTEL_SDK_DISABLED", "").lower() == "true":
        return None
    if not exporter_name:
        if not (env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")):
            return None
        exporter_name = "otlp"
    provider = TracerProvider(resource=Resource.create({"service.name": SERVICE_NAME}))
    provider.add_span_processor(BatchSpanProcessor(_exporter(exporter_name)))
    return provider


def _exporter(name: str) -> SpanExporter:
    if name == "console":
        return ConsoleSpanExporter()
    if name != "otlp":
        raise ValueError(f"OTEL_TRACES_EXPORTER: {name!r} is not supported (otlp, console or none)")
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter()


@dataclass
class _RunTrace:
    span: Span
    nodes: dict[str, Span] = field(default_factory=dict)


class RunSpans:
    """Turns each run's events into spans sent to `provider` (None: no run spans), timed by the
    events' own timestamps. One per backend: its runs' spans go to its app's provider."""

    def __init__(self, provider: trace.TracerProvider | None = None) -> None:
        self._tracer: Tracer | None = None if provider is None else provider.get_tracer(__name__)
        self._runs: dict[str, _RunTrace] = {}

    def observe(self, event: RunEvent) -> None:
        if self._tracer is None:
            return
        run = self._runs.get(event.run_id) or self._start_run(self._tracer, event)
        match event:
            case run_events.NodeStatusChanged(node_id=node_id, status=NodeStatus.RUNNING):
                context = trace.set_span_in_context(run.span)
                span = self._tracer.start_span(f"node {node_id}", context=context, start_time=_ns(event.at))
                span.set_attribute("flow.node.id", node_id)
                run.nodes[node_id] = span
            case run_events.NodeStatusChanged(node_id=node_id, status=status) if status in ENDED_STATES:
                _end(run.nodes.pop(node_id, None), event.at, status.value)
            case run_events.NodeCompleted(node_id=node_id):
                _end(run.nodes.pop(node_id, None), event.at, "completed")
            case run_events.NodeFailed(node_id=node_id, error=error):
                _end(run.nodes.pop(node_id, None), event.at, "failed", error=error)
            case run_events.RunCompleted() | run_events.RunCancelled():
                self._end_run(event.run_id, event.at, type(event).__name__)
            case run_events.RunFailed(error=error):
                self._end_run(event.run_id, event.at, "RunFailed", error=error)

    def abandoned(self, run_id: uuid.UUID, at: datetime, error: str) -> None:
        """The run was ended without a final event through `observe` (its storage was lost)."""
        self._end_run(str(run_id), at, "RunFailed", error=error)

    def _start_run(self, tracer: Tracer, event: RunEvent) -> _RunTrace:
        span = tracer.start_span("run", start_time=_ns(event.at), context=trace.set_span_in_context(trace.INVALID_SPAN))
        span.set_attribute("flow.run.id", event.run_id)
        if isinstance(event, run_events.RunStarted) and event.flow_id:
            span.set_attribute("flow.flow.id", event.flow_id)
        run = self._runs[event.run_id] = _RunTrace(span)
        return run

    def _end_run(self, run_id: str, at: datetime, outcome: str, *, error: str | None = None) -> None:
        run = self._runs.pop(run_id, None)
        if run is None:
            return
        for span in run.nodes.values():
            _end(span, at, "cancelled")
        _end(run.span, at, outcome, error=error)


def _end(span: Span | None, at: datetime, outcome: str, *, error: str | None = None) -> None:
    if span is None:
        return
    span.set_attribute("flow.outcome", outcome)
    if error is not None:
        span.set_status(Status(StatusCode.ERROR, error))
    span.end(end_time=_ns(at))


def _ns(at: datetime) -> int:
    return int(at.timestamp() * 1_000_000_000)
