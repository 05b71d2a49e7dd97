"""Flow runs on the server: start, stream, watch, cancel, list; and recovery after a crash.

The engine (`services.execution.runner.run_flow`) is an async generator of events and knows
nothing of users or databases. This module gives it what it needs for one user (providers,
media, the user's characters, the user's stored results) and runs it as a task of its own that
appends every event to the run's log (`services.runs.log`); runFlow and runEvents are followers
of that log, so no reader paces the engine.

One process (no queue): a run starts here at once. Distributed mode: a run is queued
(services.runs.queue) and executed by whichever worker claims it (`execute_queued`), resumed
from its stored log if its first worker died; cancels reach it through the cluster.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.base import utc_now
from db.models import Character, EventLog, Run, RunStatus
from db.repositories.projects import OwnedRepository
from db.repositories.runs import RunOutcome, RunRepository
from services.accounts.actors import Actor
from services.accounts.auth import require_user
from services.errors import BadInput, NotFound, RateLimited, ShuttingDown, Unavailable
from services.events.bus import EventBus
from services.execution import events as run_events
from services.execution.catalog import Catalog
from services.execution.events import RunEvent
from services.execution.graph import Graph, GraphLimits
from services.execution.providers.registry import ProviderRegistry
from services.execution.runner import CancelToken, Resume, RunRequest, run_flow
from services.platform.input_checks import parse_uuid
from services.platform.media import MediaDirectory
from services.platform.metrics import Metrics
from services.platform.pagination import Page, PageRequest
from services.platform.telemetry import RunSpans
from services.projects.flows import checked_text_provider, get_flow, parsed_graph
from services.runs.cluster import Cluster
from services.runs.log.follow import follow_run
from services.runs.log.journal import RunJournal, RunOwner, RunRecord
from services.runs.log.storage import SqlRunLogStorage
from services.runs.log.streams import RunStreams
from services.runs.log.tail import LiveTails
from services.runs.queue import QueuedRun, RunQueue

logger = logging.getLogger(__name__)

INTERRUPTED_MESSAGE = "the server stopped while this run was going; start it again"
INTERNAL_RUN_ERROR = "internal error while running this flow (details in the server log)"
QUEUE_UNAVAILABLE = "the run queue was unavailable; the run did not start"
# cancelRun answers once the run's end is stored, or after this long with what is stored.
CANCEL_WAIT_SECONDS = 10.0


@dataclass(frozen=True)
class RunInput:
    flow_id: str | None = None
    graph: object | None = None
    provider_id: str | None = None
    trigger_node_id: str | None = None
    cached_outputs: object | None = None


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
            character = await OwnedRepository(session, Character).get(key, owner_id=self._user_id)
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


@dataclass(eq=False)
class LiveRun:
    """A run going on in this process: its engine task, its cancel switch, its record."""

    run: Run
    request: RunRequest
    cancel_token: CancelToken
    record: RunRecord
    task: asyncio.Task[None] | None = None

    @property
    def run_id(self) -> uuid.UUID:
        return self.run.id

    def cancel(self) -> None:
        self.cancel_token.cancel()


class RunManager:
    """Starts runs as tasks of their own, and serves their logs to followers (runs.log)."""

    def __init__(
        self,
        *,
        session_factory: async_sessionmaker[AsyncSession],
        bus: EventBus,
        catalog: Catalog,
        providers: ProviderRegistry,
        media: MediaDirectory,
        limits: GraphLimits,
        metrics: Metrics,
        spans: RunSpans,
        max_runs_per_user: int = 20,
        storage_timeout: float = 30.0,
        delta_window: float = 0.0,
        cluster: Cluster | None = None,
        streams: RunStreams | None = None,
        queue: RunQueue | None = None,
    ) -> None:
        self._session_factory = session_factory
        self._catalog = catalog
        self._providers = providers
        self._media = media
        self._limits = limits
        self._max_runs_per_user = max_runs_per_user
        self._delta_window = delta_window
        self._cluster = cluster
        self._streams = streams
        self._queue = queue
        self._tails = LiveTails()
        self._metrics = metrics
        self._journal = RunJournal(
            SqlRunLogStorage(session_factory),
            bus,
            self._tails,
            metrics=metrics,
            spans=spans,
            streams=streams,
            storage_timeout=storage_timeout,
        )
        self._live: dict[uuid.UUID, LiveRun] = {}
        self._live_by_user: Counter[int] = Counter()
        self._background: set[asyncio.Task[Any]] = set()
        self.taking_runs = True  # False once shutting down

    async def start(self, actor: Actor, run_input: RunInput) -> Run:
        """Checks the input and stores the run as running; then starts its engine task here (the
        row goes with the journal's next group commit), or queues it for a worker (distributed
        mode)."""
        user = require_user(actor)
        if not self.taking_runs:
            raise ShuttingDown("this server is shutting down and takes no new runs; start the run again shortly")
        cached_outputs = _cached_outputs(run_input.cached_outputs)
        async with self._session_factory() as session:
            flow = await get_flow(session, actor, run_input.flow_id) if run_input.flow_id else None
            graph_json = _graph_json(run_input, flow.graph_data if flow else None)
            graph = parsed_graph(graph_json, self._limits, field="graph")
            provider_id = checked_text_provider(run_input.provider_id) or (flow.provider_id if flow else None)
            repository = RunRepository(session)
            await self._require_room_for_a_run(repository, user.id)
            now = utc_now()
            run = Run(
                id=uuid.uuid4(),
                user_id=user.id,
                flow_id=flow.id if flow else None,
                status=RunStatus.RUNNING.value,
                provider_id=provider_id,
                trigger_node_id=run_input.trigger_node_id,
                graph_data=graph_json,
                created_at=now,
                started_at=now,
                cancel_requested=False,
                attempt=0,
            )
            owner = RunOwner(user_id=user.id, project_id=flow.project_id if flow else None, session_id=str(actor.session_id))
            if self._queue:
                await repository.insert_runs([run])
                await session.commit()
                live = None
            else:
                # Opened before the row is stored, so a follower that finds the row finds the
                # live run; counted against the user's limit at once, before anything can wait.
                live = self._track(self._open(run, graph, owner, cached_outputs))
        if live is None:
            await self._enqueue(QueuedRun(run.id, owner.session_id, cached_outputs or None))
            return run
        try:
            await self._journal.create(live.record, run)
        except BaseException:
            self._journal.discard(run.id)
            self._untrack(live)
            raise
        self._launch(live)
        return run

    def _open(
        self,
        run: Run,
        graph: Graph,
        owner: RunOwner,
        cached_outputs: dict[str, Any],
        *,
        attempt: int | None = None,
        resume: Resume | None = None,
    ) -> LiveRun:
        """The run's record in the journal and its engine's request, ready to launch."""
        cancel_token = CancelToken()
        record = self._journal.open(
            run.id,
            owner,
            flow_id=run.flow_id,
            node_types={node.id: node.type for node in graph.nodes},
            on_abandon=cancel_token.cancel,
            attempt=attempt,
            stored_seq=resume.after_seq if resume else 0,
        )
        request = RunRequest(
            run_id=str(run.id),
            graph=graph,
            flow_provider_id=run.provider_id,
            flow_id=None if run.flow_id is None else str(run.flow_id),
            trigger_node_id=run.trigger_node_id,
            cached_outputs=cached_outputs,
            cancel_token=cancel_token,
            delta_window=self._delta_window,
            resume=resume,
        )
        return LiveRun(run, request, cancel_token, record)

    async def _enqueue(self, queued: QueuedRun) -> None:
        assert self._queue is not None
        try:
            await self._queue.enqueue(queued)
        except Exception as error:
            logger.exception("could not queue a run", extra={"run_id": str(queued.run_id)})
            with contextlib.suppress(Exception):
                await self._end_unclaimed(queued.run_id, RunStatus.FAILED, error=QUEUE_UNAVAILABLE)
            raise Unavailable("the run queue is unavailable, so the run did not start; try again shortly") from error

    # --- distributed mode: the worker's side ---------------------------------------------------

    async def execute_queued(self, queued: QueuedRun) -> None:
        """A queued run, claimed by this worker: executed here until its end is stored (or it
        is taken over). A run whose earlier worker died resumes after its stored log."""
        live = await self._claim(queued)
        if live is None:
            return
        self._launch(self._track(live))
        assert live.task is not None
        await live.task

    async def _claim(self, queued: QueuedRun) -> LiveRun | None:
        async with self._session_factory() as session:
            repository = RunRepository(session)
            run = await repository.claim(queued.run_id, self._worker_id)
            if run is None:
                return None  # ended meanwhile (cancelled before any worker took it)
            stored_seq = await repository.last_seq(run.id)
            completed = await repository.completed_outputs(run.id) if stored_seq else {}
            project_id = await repository.project_of(run)
            await session.commit()
        if stored_seq:
            logger.warning("run taken over from a stopped worker", extra={"run_id": str(run.id), "after_seq": stored_seq})
        owner = RunOwner(user_id=run.user_id, project_id=project_id, session_id=queued.session_id)
        try:
            graph = parsed_graph(run.graph_data, self._limits, field="graph")
        except BadInput as error:
            # Checked when it was queued: only a worker with lower limits gets here.
            await self._fail_claimed(run, owner, stored_seq, error.message)
            return None
        resume = Resume(after_seq=stored_seq, completed=completed) if stored_seq else None
        live = self._open(run, graph, owner, queued.cached_outputs or {}, attempt=run.attempt, resume=resume)
        if run.cancel_requested:
            live.cancel()
        return live

    async def _fail_claimed(self, run: Run, owner: RunOwner, stored_seq: int, error: str) -> None:
        """Ends a claimed run that cannot run here with RunFailed, through the journal."""
        record = self._journal.open(
            run.id, owner, flow_id=run.flow_id, node_types={}, on_abandon=_nothing, attempt=run.attempt, stored_seq=stored_seq
        )
        self._journal.append(record, run_events.RunFailed(run_id=str(run.id), seq=stored_seq + 1, at=utc_now(), error=error))
        await record.finished.wait()

    async def interrupt_stalled(self, run_id: uuid.UUID) -> None:
        """STALLED_RUNS=interrupt: a run whose worker died ends as interrupted."""
        async with self._session_factory() as session:
            finals = await mark_interrupted_runs(session, run_ids=[run_id])
            await session.commit()
        for final in finals:
            self._publish_elsewhere(final)

    @property
    def _worker_id(self) -> str | None:
        return self._cluster.worker_id if self._cluster else None

    async def _require_room_for_a_run(self, repository: RunRepository, user_id: int) -> None:
        # One process runs every run, so its live runs are all the user's running runs (start-up
        # ended any others as interrupted); with a queue, only the database knows them all.
        running = await repository.running_count(user_id) if self._queue else self._live_by_user[user_id]
        if running >= self._max_runs_per_user:
            raise RateLimited(
                f"you have {self._max_runs_per_user} runs going already (the limit); "
                "wait for one to end or cancel one",
                retry_after_seconds=1,
            )

    def _track(self, live: LiveRun) -> LiveRun:
        self._live[live.run_id] = live
        self._live_by_user[live.run.user_id] += 1
        return live

    def _untrack(self, live: LiveRun) -> None:
        if self._live.pop(live.run_id, None) is not None:
            self._live_by_user[live.run.user_id] -= 1
            if not self._live_by_user[live.run.user_id]:
                del self._live_by_user[live.run.user_id]

    def _launch(self, live: LiveRun) -> None:
        live.task = asyncio.create_task(self._execute(live), name=f"run {live.run_id}")
        self._metrics.run_started()

    async def stream(self, actor: Actor, run_input: RunInput) -> AsyncIterator[RunEvent]:
        """Starts a run and follows it (`runFlow`); closing this cancels the run."""
        run = await _started(self.start(actor, run_input), on_orphan=self._stop_unwatched)
        ended = False
        try:
            async for event in self.follow(run.id, after_seq=0):
                ended = isinstance(event, run_events.FINAL_EVENTS)
                yield event
        finally:
            if not ended:
                self._stop_unwatched(run.id)

    async def start_in_background(self, actor: Actor, run_input: RunInput) -> Run:
        """A run that goes on whether or not anyone watches it (`startRun`)."""
        return await self.start(actor, run_input)

    async def watch(self, actor: Actor, run_id: str, *, after_seq: int = 0) -> AsyncIterator[RunEvent]:
        """The run's events after `after_seq`: replayed from storage, then followed live."""
        if after_seq < 0:
            raise BadInput("afterSeq", "must not be negative")
        run = await self.get(actor, run_id)
        async for event in self.follow(run.id, after_seq=after_seq):
            yield event

    def follow(self, run_id: uuid.UUID, *, after_seq: int) -> AsyncIterator[RunEvent]:
        events = follow_run(
            run_id,
            after_seq=after_seq,
            tails=self._tails,
            session_factory=self._session_factory,
            streams=self._streams,
        )
        return self._metrics.delivered(events)

    async def cancel(self, actor: Actor, run_id: str) -> Run:
        """Cancels the run wherever it goes on; answers once its end is stored (or after
        CANCEL_WAIT_SECONDS with what is stored)."""
        run = await self.get(actor, run_id)
        live = self._live.get(run.id)
        if live is not None:
            live.cancel()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(live.record.finished.wait(), CANCEL_WAIT_SECONDS)
        elif self._cluster is not None and run.status == RunStatus.RUNNING.value:
            last_seq = await self._cancel_elsewhere(run.id)
            if last_seq is not None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(_until_the_end(self.follow(run.id, after_seq=last_seq)), CANCEL_WAIT_SECONDS)
        return await self.get(actor, run_id)

    async def _cancel_elsewhere(self, run_id: uuid.UUID) -> int | None:
        """A run no worker has claimed yet ends at once (None); a claimed one is asked to stop,
        wherever it goes on (returns its last stored seq, to follow it to its end)."""
        assert self._cluster is not None
        if self._queue is not None and await self._end_unclaimed(run_id, RunStatus.CANCELLED):
            return None
        # Stored first: the process running it finds the request even if the announcement is lost.
        async with self._session_factory() as session:
            repository = RunRepository(session)
            await repository.request_cancel(run_id)
            last_seq = await repository.last_seq(run_id)
            await session.commit()
        await self._cluster.announce_cancel(run_id)
        return last_seq

    def _stop_unwatched(self, run_id: uuid.UUID) -> None:
        """A runFlow closed before its run ended: the run is cancelled, wherever it goes on."""
        live = self._live.get(run_id)
        if live is not None:
            live.cancel()
        elif self._cluster is not None:
            task = asyncio.create_task(self._cancel_elsewhere(run_id), name=f"cancel run {run_id}")
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    async def _end_unclaimed(self, run_id: uuid.UUID, status: RunStatus, *, error: str | None = None) -> bool:
        """Ends a queued run no worker has claimed (False if one has): its one event is its end."""
        at = utc_now()
        final: RunEvent = (
            run_events.RunCancelled(run_id=str(run_id), seq=1, at=at)
            if status is RunStatus.CANCELLED
            else run_events.RunFailed(run_id=str(run_id), seq=1, at=at, error=error or "")
        )
        async with self._session_factory() as session:
            repository = RunRepository(session)
            run = await repository.end_unclaimed(run_id, status=status, at=at, error=error)
            if run is None:
                return False
            _store_final(session, run, final)
            await session.commit()
        self._publish_elsewhere(final)
        return True

    def cancel_here(self, run_id: uuid.UUID) -> None:
        """A cancel announced by another process, for a run that may be going on here."""
        live = self._live.get(run_id)
        if live is not None:
            live.cancel()

    async def sweep(self) -> None:
        """Distributed mode, every few seconds: cancel this process's runs whose cancel request
        was stored but not heard."""
        assert self._cluster is not None
        async with self._session_factory() as session:
            requested = await RunRepository(session).cancel_requested(self._cluster.worker_id)
        for run_id in requested:
            self.cancel_here(run_id)

    def _publish_elsewhere(self, final: RunEvent) -> None:
        """A run's end written outside the journal (a run never claimed, or of a dead worker),
        for followers in other processes; this process's follow storage."""
        if self._streams is not None:
            self._streams.publish(uuid.UUID(final.run_id), [final], final=True)

    async def get(self, actor: Actor, run_id: str) -> Run:
        async with self._session_factory() as session:
            return await get_run(session, actor, run_id)

    async def close(self, grace_seconds: float = 0.0) -> None:
        """Shutting down: take no new runs, give live ones `grace_seconds` to end, cancel the
        rest and write what is left of every log. Safe to call again."""
        self.taking_runs = False
        await self._wait_for_live_runs(grace_seconds)
        for live in list(self._live.values()):
            live.cancel()
        await self._wait_for_live_runs(CANCEL_WAIT_SECONDS)
        await self._journal.close()
        if self._streams is not None:
            await self._streams.close()

    async def _wait_for_live_runs(self, timeout: float) -> None:
        tasks = [live.task for live in self._live.values() if live.task is not None]
        if tasks and timeout > 0:
            await asyncio.wait(tasks, timeout=timeout)

    async def _execute(self, live: LiveRun) -> None:
        """The run's task: the engine, then waiting for its log to be stored (until then
        cancelRun still finds it)."""
        try:
            await self._run_engine(live)
        finally:
            # The engine crashed, or was cancelled from outside (shutdown): the log gets its end.
            self._end(live.record)
        try:
            await live.record.finished.wait()
        finally:
            self._untrack(live)
            self._metrics.run_ended()

    async def _run_engine(self, live: LiveRun) -> None:
        record = live.record
        engine_events = run_flow(
            live.request,
            catalog=self._catalog,
            providers=self._providers,
            media=self._media,
            characters=UserCharacters(self._session_factory, live.run.user_id),
            result_cache=UserResults(self._session_factory, live.run.user_id),
            limits=self._limits,
        )
        try:
            async with aclosing(engine_events):
                async for event in engine_events:
                    self._journal.append(record, event)
                    await self._journal.wait_for_room(record)
        except Exception:
            logger.exception("run crashed", extra={"run_id": str(live.run_id)})
            self._end(record, error=INTERNAL_RUN_ERROR)

    def _end(self, record: RunRecord, *, error: str | None = None) -> None:
        """Closes a log the engine left open: RunFailed when it crashed, else RunCancelled."""
        if record.ended:
            return
        seq, at, run_id = record.last_seq + 1, utc_now(), str(record.run_id)
        final: RunEvent = (
            run_events.RunCancelled(run_id=run_id, seq=seq, at=at)
            if error is None
            else run_events.RunFailed(run_id=run_id, seq=seq, at=at, error=error)
        )
        self._journal.append(record, final)


def _nothing() -> None:
    return None


async def _until_the_end(events: AsyncIterator[RunEvent]) -> None:
    async for _ in events:
        pass


async def _started(starting: Awaitable[Run], *, on_orphan: Callable[[uuid.UUID], None]) -> Run:
    """Awaits a start that a cancelled caller (a subscription closed at once) cannot leave
    half done: once the run exists, `on_orphan` cancels it instead of leaving it unwatched."""
    task = asyncio.ensure_future(starting)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:

        def orphaned(done: asyncio.Future[Run]) -> None:
            if not done.cancelled() and done.exception() is None:
                on_orphan(done.result().id)

        task.add_done_callback(orphaned)
        raise


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


async def mark_interrupted_runs(
    session: AsyncSession, *, run_ids: Sequence[uuid.UUID] | None = None
) -> list[run_events.RunFailed]:
    """Runs a stopped process left `running` (every one at the start-up of the one process, or
    those of a dead worker with STALLED_RUNS=interrupt) become `interrupted`. Each log is closed
    with a RunFailed numbered after its last stored event (every event a client saw is stored, so
    it follows them all), and its open node results end as cancelled. Returns those RunFailed."""
    repository = RunRepository(session)
    runs = await repository.unfinished(run_ids=run_ids)
    last_seqs = await repository.last_seqs([run.id for run in runs])
    now = utc_now()
    finals = []
    for run in runs:
        final = run_events.RunFailed(run_id=str(run.id), seq=last_seqs.get(run.id, 0) + 1, at=now, error=INTERRUPTED_MESSAGE)
        finals.append(final)
        _store_final(session, run, final)
    outcomes = [RunOutcome(run.id, RunStatus.INTERRUPTED, now, error=INTERRUPTED_MESSAGE) for run in runs]
    await repository.finish(outcomes)
    await repository.close_unfinished_node_results(outcomes)
    return finals


def _store_final(session: AsyncSession, run: Run, final: RunEvent) -> None:
    """A run's terminal event, written outside the journal (the run is not live here)."""
    session.add(
        EventLog(
            event_name=final.event_name,
            payload=final.to_json(),
            user_id=run.user_id,
            run_id=run.id,
            seq=final.seq,
            created_at=final.at,
        )
    )


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

