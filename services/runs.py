"""Flow runs on the server: start, stream, watch, cancel, list; and recovery after a crash.

The engine (`services.execution.runner.run_flow`) is an async generator of events and knows
nothing of users or databases. This module gives it what it needs for one user (providers,
media, the user's characters, the user's stored results), records every event it yields
(`run_recording`), and keeps each live run's events in memory so that `watch_run` can replay
them and follow the run without a gap or a duplicate.
"""

from __future__ import annotations

import asyncio
import logging
import mimetypes
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import aclosing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.base import utcnow
from db.models import ConsistentCharacter, EventLog, Run, RunStatus
from db.repositories.projects import OwnedRepository
from db.repositories.runs import RunRepository
from services.auth import Actor, require_user
from services.errors import BadInput, NotFound
from services.execution.catalog import Catalog
from services.events import EventBus
from services.execution import events as run_events
from services.execution.events import RunEvent, event_from_json, utc_now
from services.execution.graph import GraphLimits
from services.execution.providers.registry import ProviderRegistry
from services.execution.runner import CancelToken, RunRequest, run_flow
from services.flows import checked_text_provider, get_flow, parsed_graph
from services.pagination import Page, PageRequest
from services.run_recording import RunOwner, RunRecorder
from services.validation import parse_uuid

logger = logging.getLogger(__name__)

INTERRUPTED_MESSAGE = "the server stopped while this run was going; start it again"
CLOSED_MESSAGE = "cancelled: the client closed the subscription"


@dataclass(frozen=True)
class RunInput:
    flow_id: str | None = None
    graph: object | None = None
    provider_id: str | None = None
    trigger_node_id: str | None = None
    cached_outputs: object | None = None


class LiveRun:
    """A run going on in this process: its events so far, for followers, and its cancel switch."""

    def __init__(self, run: Run, recorder: RunRecorder, request: RunRequest) -> None:
        # The token the engine listens to; a fresh one here would cancel nothing.
        assert request.cancel_token is not None, "a live run must be cancellable"
        self.run = run
        self.recorder = recorder
        self.request = request
        self.cancel_token = request.cancel_token
        self.history: list[RunEvent] = []
        self.finished = asyncio.Event()
        self._news = asyncio.Event()

    def publish(self, event: RunEvent) -> None:
        self.history.append(event)
        self.recorder.record(event)
        self._wake_followers()

    def close(self) -> None:
        """The run's record is complete: followers finish once they have every event."""
        self.finished.set()
        self._wake_followers()

    def _wake_followers(self) -> None:
        self._news.set()
        self._news = asyncio.Event()

    async def follow(self) -> AsyncIterator[RunEvent]:
        """Every event from the first, then each new one as it comes, until the run ends."""
        index = 0
        while True:
            news = self._news
            while index < len(self.history):
                yield self.history[index]
                index += 1
            if self.finished.is_set():
                return
            await news.wait()


class MediaDirectory:
    """Generated images, stored as files and served by the app under `url_prefix`."""

    def __init__(self, directory: Path, url_prefix: str = "/media") -> None:
        self.directory = directory
        self.url_prefix = url_prefix

    async def save(self, data: bytes, content_type: str) -> str:
        extension = mimetypes.guess_extension(content_type) or ".bin"
        name = f"{uuid.uuid4().hex}{extension}"
        self.directory.mkdir(parents=True, exist_ok=True)
        await asyncio.to_thread((self.directory / name).write_bytes, data)
        return f"{self.url_prefix}/{name}"


class UserCharacters:
    """The run's user's saved characters, for consistentCharacter nodes."""

    def __init__(self, session_factory: async_sessionmaker[AsyncSession], user_id: int) -> None:
        self._session_factory = session_factory
        self._user_id = user_id

    async def lookup(self, character_id: str) -> Mapping[str, Any] | None:
        try:
            key = uuid.UUID(character_id)
        except ValueError:
            return None
        async with self._session_factory() as session:
            character = await OwnedRepository(session, ConsistentCharacter).get(key, owner_id=self._user_id)
        if character is None:
            return None
        return {
            "name": character.name,
            "description": character.description,
            "appearance": character.appearance,
            "personality": character.personality,
            "outfit": character.outfit,
            **({"extra": character.extra} if character.extra else {}),
        }


class UserResults:
    """Stored outputs of identical nodes in the user's earlier runs, for partial re-execution."""

    def __init__(self, session_factory: async_sessionmaker[AsyncSession], user_id: int) -> None:
        self._session_factory = session_factory
        self._user_id = user_id

    async def lookup(self, cache_key: str) -> Mapping[str, Any] | None:
        async with self._session_factory() as session:
            return await RunRepository(session).stored_output(cache_key=cache_key, owner_id=self._user_id)


class RunManager:
    def __init__(
        self,
        *,
        session_factory: async_sessionmaker[AsyncSession],
        bus: EventBus,
        catalog: Catalog,
        providers: ProviderRegistry,
        media: MediaDirectory,
        limits: GraphLimits,
    ) -> None:
        self._session_factory = session_factory
        self._bus = bus
        self._catalog = catalog
        self._providers = providers
        self._media = media
        self._limits = limits
        self._live: dict[uuid.UUID, LiveRun] = {}
        self._background: set[asyncio.Task[None]] = set()
        # Run recorders write one at a time (see RunRecorder): with one transaction per run
        # every 50 ms, hundreds of live runs otherwise exhaust the connection pool and new runs
        # fail waiting for a connection.
        self._recording_lock = asyncio.Lock()

    async def start(self, actor: Actor, run_input: RunInput) -> LiveRun:
        """Check the input, store the run as running, and make it live (nothing runs yet)."""
        user = require_user(actor)
        cached_outputs = _cached_outputs(run_input.cached_outputs)
        async with self._session_factory() as session:
            flow = await get_flow(session, actor, run_input.flow_id) if run_input.flow_id else None
            graph_json = _graph_json(run_input, flow.graph_data if flow else None)
            graph = parsed_graph(graph_json, self._limits, field="graph")
            provider_id = checked_text_provider(run_input.provider_id) or (flow.provider_id if flow else None)
            run = await RunRepository(session).add(
                Run(
                    user_id=user.id,
                    flow_id=flow.id if flow else None,
                    status=RunStatus.RUNNING.value,
                    provider_id=provider_id,
                    trigger_node_id=run_input.trigger_node_id,
                    graph_data=graph_json,
                    started_at=utcnow(),
                )
            )
            await session.commit()
        owner = RunOwner(
            user_id=user.id,
            project_id=flow.project_id if flow else None,
            session_id=str(actor.session_id),
        )
        request = RunRequest(
            run_id=str(run.id),
            graph=graph,
            flow_provider_id=provider_id,
            flow_id=None if flow is None else str(flow.id),
            trigger_node_id=run_input.trigger_node_id,
            cached_outputs=cached_outputs,
            cancel_token=CancelToken(),
        )
        node_types = {node.id: node.type for node in graph.nodes}
        recorder = RunRecorder(
            run, owner, self._session_factory, self._bus, node_types, write_lock=self._recording_lock
        )
        live = LiveRun(run, recorder, request)
        self._live[run.id] = live
        return live

    async def stream(self, live: LiveRun) -> AsyncIterator[RunEvent]:
        """Run it, yielding the engine's events as they come; closing this cancels the run."""
        final: RunEvent | None = None
        try:
            engine_events = run_flow(
                live.request,
                catalog=self._catalog,
                providers=self._providers,
                media=self._media,
                characters=UserCharacters(self._session_factory, live.run.user_id),
                result_cache=UserResults(self._session_factory, live.run.user_id),
                limits=self._limits,
            )
            # aclosing: when our consumer leaves, the engine's own clean-up (cancelling its
            # node tasks and provider calls) runs now, not whenever it is garbage-collected.
            async with aclosing(engine_events):
                async for event in engine_events:
                    live.publish(event)
                    if isinstance(event, run_events.FINAL_EVENTS):
                        final = event
                    yield event
        finally:
            if final is None:
                # The consumer went away (closed subscription, shutdown): the engine has
                # cancelled its work; the record says so.
                final = run_events.RunCancelled(
                    run_id=str(live.run.id), seq=len(live.history) + 1, at=utc_now()
                )
                live.publish(final)
            await asyncio.shield(self._finish(live, final))

    async def start_in_background(self, actor: Actor, run_input: RunInput) -> Run:
        """A run that goes on whether or not anyone watches it (`startRun`)."""
        live = await self.start(actor, run_input)
        task = asyncio.create_task(self._drain(live))
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return live.run

    async def watch(self, actor: Actor, run_id: str) -> AsyncIterator[RunEvent]:
        """A run's events from the first: replayed if it has ended, followed live if not."""
        run = await self.get(actor, run_id)
        live = self._live.get(run.id)
        if live is not None:
            async for event in live.follow():
                yield event
            return
        # Not live here: finished (the recorder wrote every event before the run left
        # `_live`) or interrupted (recovery wrote its closing event).
        async with self._session_factory() as session:
            rows = await RunRepository(session).events(run.id)
        for row in rows:
            yield _stored_event(row)

    async def cancel(self, actor: Actor, run_id: str) -> Run:
        run = await self.get(actor, run_id)
        live = self._live.get(run.id)
        if live is not None:
            live.cancel_token.cancel()
            await live.finished.wait()
        return await self.get(actor, run_id)

    async def get(self, actor: Actor, run_id: str) -> Run:
        async with self._session_factory() as session:
            return await get_run(session, actor, run_id)

    async def close(self) -> None:
        """Shutting down: cancel what is running and wait for the records to be written."""
        for live in list(self._live.values()):
            live.cancel_token.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)

    async def _drain(self, live: LiveRun) -> None:
        try:
            async for _ in self.stream(live):
                pass
        except Exception:
            logger.exception("background run failed", extra={"run_id": str(live.run.id)})

    async def _finish(self, live: LiveRun, final: RunEvent) -> None:
        try:
            await live.recorder.finish(final)
        except Exception:
            logger.exception("could not record the end of a run", extra={"run_id": str(live.run.id)})
        finally:
            self._live.pop(live.run.id, None)
            live.close()


async def get_run(session: AsyncSession, actor: Actor, run_id: str) -> Run:
    run = await RunRepository(session).get(parse_uuid("run", run_id), owner_id=actor.owner_filter)
    if run is None:
        raise NotFound("run", run_id)
    return run


async def list_runs(
    session: AsyncSession, actor: Actor, request: PageRequest, *, flow_id: str | None
) -> Page[Run]:
    flow = await get_flow(session, actor, flow_id) if flow_id is not None else None
    rows = await RunRepository(session).page(
        owner_id=actor.owner_filter,
        flow_id=flow.id if flow else None,
        offset=request.offset,
        limit=request.limit,
    )
    return Page.from_rows(rows)


async def mark_interrupted_runs(session: AsyncSession) -> int:
    """At start-up: runs a crash left `running` become `interrupted`, their log closed with a
    RunFailed event so that a replay ends. Returns how many there were."""
    repository = RunRepository(session)
    runs = await repository.unfinished()
    now = utcnow()
    for run in runs:
        run.status = RunStatus.INTERRUPTED.value
        run.error = INTERRUPTED_MESSAGE
        run.finished_at = now
        final = run_events.RunFailed(
            run_id=str(run.id), seq=await repository.last_seq(run.id) + 1, at=now, error=INTERRUPTED_MESSAGE
        )
        session.add(
            EventLog(
                event_name=final.event_name,
                payload=final.to_json(),
                user_id=run.user_id,
                run_id=run.id,
                seq=final.seq,
                created_at=now,
            )
        )
    return len(runs)


def _graph_json(run_input: RunInput, flow_graph: dict[str, Any] | None) -> dict[str, Any]:
    graph = run_input.graph if run_input.graph is not None else flow_graph
    if graph is None:
        raise BadInput("flowId", "give a flowId or a graph to run")
    if not isinstance(graph, dict):
        raise BadInput("graph", "must be a JSON object with nodes, edges and viewport")
    return graph


def _cached_outputs(value: object | None) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadInput("cachedOutputs", "must be a JSON object of node id -> output")
    return value


def _stored_event(row: EventLog) -> RunEvent:
    return event_from_json(row.event_name, row.payload)
