"""`main.py run FLOW.json`: run a flow file in this process, with nothing stored.

Everything a run needs is checked before it starts (the file, the graph against the catalog, the
providers), so bad input ends with `RunRefused` and no provider is called. The run then goes as
the server's do (ARCHITECTURE.md, "The run path"): the engine runs as a task of its own, appending its events to
an in-memory log (a `RunTail`), and the display is a follower of that log, so drawing it never
paces the run. Ctrl-C cancels the run through the engine's cancel token: its provider calls are
cancelled and the log ends with `RunCancelled`.

The catalog is the server's own (services/execution/components.py), so running a file needs no database.
Imports are kept to the engine's own modules: the command's first line comes before the web
stack would have finished importing.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from services.execution import events as run_events
from services.execution.catalog import Catalog
from services.execution.components import CATALOG
from services.execution.executors import MediaStore
from services.execution.graph import parse_graph
from services.execution.models import ModelResolutionError, resolve_model
from services.execution.providers.known import PROVIDERS, TEXT_PROVIDER_IDS
from services.execution.providers.registry import ProviderRegistry
from services.execution.runner import CancelToken, RunRequest, run_flow
from services.execution.validation import ExecutionPlan, validate_graph
from services.platform.media import MediaDirectory
from services.platform.settings import Settings
from services.runs.log.tail import RunTail

EXIT_COMPLETED = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_CANCELLED = 130  # 128 + SIGINT, as shells report a command ended by Ctrl-C

# Nothing stores a command-line run, so its log must keep every event for the display to read:
# a window this size is never trimmed.
WHOLE_RUN = sys.maxsize // 4


class RunRefused(Exception):
    """The flow cannot run as asked; the message says why. Nothing has run."""


@dataclass(frozen=True)
class FlowFile:
    path: Path
    plan: ExecutionPlan
    provider_id: str | None  # the flow's text provider: `--provider`


@dataclass(frozen=True)
class LocalRun:
    """A run of `main.py run`, in this process only (nothing is stored): its log, and the token
    that cancels it."""

    run_id: str
    tail: RunTail
    cancel: CancelToken


def load_flow(
    path: Path, *, provider_id: str | None, settings: Settings, catalog: Catalog = CATALOG
) -> FlowFile:
    """The file's graph as a plan the engine can run, with the providers it needs checked."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        graph = parse_graph(data, settings.limits.graph_limits)
        plan = validate_graph(graph, catalog, settings.limits.graph_limits)
    except (OSError, ValueError) as error:  # GraphShapeError, GraphValidationError, bad JSON
        raise RunRefused(f"{path}: {error}") from None
    registry = ProviderRegistry.from_settings(settings.providers)  # builds no client: only asked
    check_providers(plan, provider_id=provider_id, available=registry.available)
    return FlowFile(path=path, plan=plan, provider_id=provider_id)


def check_providers(
    plan: ExecutionPlan, *, provider_id: str | None, available: Callable[[str], bool]
) -> None:
    """The flow's provider is a known text provider, and every node that always calls a
    provider has one it can call. Nodes that call one only for some inputs (an initialPrompt
    with persona or scene inputs, a compressor given long text) are checked when they run."""
    if provider_id is not None and provider_id not in TEXT_PROVIDER_IDS:
        raise RunRefused(
            f"--provider: unknown text provider {provider_id!r}; known: {', '.join(TEXT_PROVIDER_IDS)}"
        )
    for node_id, planned in plan.nodes.items():
        config = planned.spec.api_config
        if config is None or config.provider_call != "always":
            continue
        try:
            choice = resolve_model(data=planned.node.data, spec=planned.spec, flow_provider_id=provider_id)
        except ModelResolutionError as error:
            hint = f" (the flow's provider: --provider, one of {', '.join(TEXT_PROVIDER_IDS)})"
            raise RunRefused(
                f"node {node_id!r} ({planned.node.type}): {error}{hint if provider_id is None else ''}"
            ) from None
        if not available(choice.provider_id):
            info = PROVIDERS[choice.provider_id]
            raise RunRefused(
                f"node {node_id!r} ({planned.node.type}) calls {info.name}: "
                f"{info.setting_prefix}_API_KEY is not set"
            )


async def execute(flow: FlowFile, settings: Settings, show: Callable[[run_events.RunEvent], None]) -> int:
    """Runs the flow, handing each event of its log to `show`; the exit status of its end."""
    final: run_events.RunEvent | None = None
    async with started(flow, settings) as run:
        async for event in follow(run.tail):
            show(event)
            final = event
    return exit_status(final)


@contextlib.asynccontextmanager
async def started(flow: FlowFile, settings: Settings) -> AsyncIterator[LocalRun]:
    """Starts the run in a task of its own; on exit, waits for it to end (re-raising a crash of
    the engine) and closes the provider clients. Ctrl-C meanwhile cancels the run."""
    providers = ProviderRegistry.from_settings(settings.providers, concurrency=settings.provider_concurrency)
    run = LocalRun(run_id=str(uuid.uuid4()), tail=RunTail(window=WHOLE_RUN), cancel=CancelToken())
    request = RunRequest(
        run_id=run.run_id,
        graph=flow.plan,
        flow_provider_id=flow.provider_id,
        cancel_token=run.cancel,
        delta_window=settings.delta_window_ms / 1000,
    )
    engine: asyncio.Task[None] | None = None
    events = run_flow(
        request,
        catalog=CATALOG,
        providers=providers,
        media=_media(flow.plan, settings),
        limits=settings.limits.graph_limits,
    )
    try:
        with _cancel_on_interrupt(run.cancel):
            # The provider SDKs take a second to import: paid before the first node starts, so
            # its duration is its own, and in a thread, so the display keeps drawing meanwhile.
            await asyncio.to_thread(providers.prepare)
            engine = asyncio.create_task(record(events, run.tail), name=f"run {run.run_id}")
            yield run
            await engine
    finally:
        if engine is not None and not engine.done():  # the follower failed: stop the run too
            engine.cancel()
            await asyncio.gather(engine, return_exceptions=True)
        await providers.aclose()


async def record(events: AsyncIterator[run_events.RunEvent], tail: RunTail) -> None:
    """The engine's task: each event goes into the run's log as it comes; no reader waits it."""
    try:
        async for event in events:
            tail.extend((event,))
    finally:
        tail.close()


async def follow(tail: RunTail, *, after_seq: int = 0) -> AsyncIterator[run_events.RunEvent]:
    """Every event of the log after `after_seq`, in order, until the log is closed."""
    next_seq = after_seq + 1
    while True:
        events = tail.since(next_seq)
        if events is None:
            raise RuntimeError(f"event {next_seq} has left the run's window")  # WHOLE_RUN keeps all
        if not events:
            if tail.closed:
                return
            await tail.changed()
            continue
        for event in events:
            yield event
        next_seq = events[-1].seq + 1


def exit_status(final: run_events.RunEvent | None) -> int:
    if isinstance(final, run_events.RunCompleted):
        return EXIT_COMPLETED
    if isinstance(final, run_events.RunCancelled):
        return EXIT_CANCELLED
    return EXIT_FAILED


@contextlib.contextmanager
def _cancel_on_interrupt(token: CancelToken) -> Iterator[None]:
    """SIGINT (Ctrl-C) cancels the run cleanly instead of raising KeyboardInterrupt mid-run."""
    loop = asyncio.get_running_loop()
    try:
        loop.add_signal_handler(signal.SIGINT, token.cancel)
    except NotImplementedError:  # Windows' event loops: Ctrl-C stays a KeyboardInterrupt there
        yield
        return
    try:
        yield
    finally:
        loop.remove_signal_handler(signal.SIGINT)


def _media(plan: ExecutionPlan, settings: Settings) -> MediaStore | None:
    """Where generated images go, for a flow that makes any: files in MEDIA_DIR, referred to by
    their absolute path, since no server serves them."""
    if not any(
        planned.spec.api_config and planned.spec.api_config.provider_kind == "image"
        for planned in plan.nodes.values()
    ):
        return None
    return MediaDirectory(settings.media_dir, url_prefix=str(settings.media_dir.resolve()))
