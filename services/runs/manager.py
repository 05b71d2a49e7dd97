"""Flow runs on the server, as the API sees them: start, stream, follow, cancel; and draining at
shutdown.

The engine (`services.execution.runner.run_flow`) is an async generator of events and knows
nothing of users or databases. A run's engine runs as a task of its own that appends every event
to the run's log (`services.runs.launcher`); runFlow and runEvents are followers of that log
(`services.runs.log`), so no reader paces the engine.

One process (no queue): a run starts here at once. Distributed mode: a run is queued
(services.runs.queue) and executed by whichever worker claims it (services.runs.worker);
cancels reach it through the cluster (services.runs.cancelling).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.base import utc_now
from db.models import Flow, Run, RunStatus
from db.repositories.runs import RunRepository
from services.accounts.actors import Actor
from services.accounts.auth import require_user
from services.errors import BadInput, RateLimited, ShuttingDown, Unavailable
from services.execution import events as run_events
from services.execution.events import RunEvent
from services.execution.graph import GraphLimits
from services.projects.flows import checked_text_provider, get_flow, parsed_graph
from services.runs.cancelling import CANCEL_WAIT_SECONDS, RunCanceller
from services.runs.endings import RunEndings
from services.runs.launcher import RunLauncher
from services.runs.live import LiveRuns
from services.runs.log.follow import RunLogs
from services.runs.log.journal import RunJournal, RunOwner
from services.runs.log.streams import RunStreams
from services.runs.queue import QueuedRun, RunQueue
from services.runs.stored import get_run

logger = logging.getLogger(__name__)

QUEUE_UNAVAILABLE = "the run queue was unavailable; the run did not start"


@dataclass(frozen=True)
class RunInput:
    flow_id: str | None = None
    graph: object | None = None
    provider_id: str | None = None
    trigger_node_id: str | None = None
    cached_outputs: object | None = None


class RunManager:
    """Starts runs and serves their logs to followers; at shutdown, drains the live runs."""

    def __init__(
        self,
        *,
        session_factory: async_sessionmaker[AsyncSession],
        journal: RunJournal,
        live_runs: LiveRuns,
        launcher: RunLauncher,
        logs: RunLogs,
        canceller: RunCanceller,
        endings: RunEndings,
        limits: GraphLimits,
        max_runs_per_user: int = 20,
        streams: RunStreams | None = None,
        queue: RunQueue | None = None,
    ) -> None:
        self._session_factory = session_factory
        self._journal = journal
        self._live_runs = live_runs
        self._launcher = launcher
        self._logs = logs
        self._canceller = canceller
        self._endings = endings
        self._limits = limits
        self._max_runs_per_user = max_runs_per_user
        self._streams = streams
        self._queue = queue
        self.taking_runs = True  # False once shutting down

    async def start(self, actor: Actor, run_input: RunInput) -> Run:
        """A run that goes on whether or not anyone follows it (`startRun`): checks the input and
        stores the run as running; then starts its engine task here (the row goes with the
        journal's next group commit), or queues it for a worker (distributed mode)."""
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
            run = _new_run(user.id, flow, graph_json, provider_id=provider_id, trigger_node_id=run_input.trigger_node_id)
            owner = RunOwner(user_id=user.id, project_id=flow.project_id if flow else None, session_id=str(actor.session_id))
            if self._queue:
                await repository.insert_runs([run])
                await session.commit()
                live = None
            else:
                # Opened before the row is stored, so a follower that finds the row finds the
                # live run; counted against the user's limit at once, before anything can wait.
                live = self._launcher.open(run, graph, owner, cached_outputs)
        if live is None:
            await self._enqueue(QueuedRun(run.id, owner.session_id, cached_outputs or None))
        else:
            await self._launcher.store_and_launch(live)
        return run

    async def stream(self, actor: Actor, run_input: RunInput) -> AsyncIterator[RunEvent]:
        """Starts a run and follows it (`runFlow`); closing this cancels the run."""
        run = await _started(self.start(actor, run_input), on_orphan=self._canceller.stop_unfollowed)
        ended = False
        try:
            async for event in self._logs.follow(run.id, after_seq=0):
                ended = isinstance(event, run_events.FINAL_EVENTS)
                yield event
        finally:
            if not ended:
                self._canceller.stop_unfollowed(run.id)

    async def follow(self, actor: Actor, run_id: str, *, after_seq: int = 0) -> AsyncIterator[RunEvent]:
        """The run's events after `after_seq`: replayed from storage, then followed live."""
        if after_seq < 0:
            raise BadInput("afterSeq", "must not be negative")
        run = await self._get(actor, run_id)
        async for event in self._logs.follow(run.id, after_seq=after_seq):
            yield event

    async def cancel(self, actor: Actor, run_id: str) -> Run:
        """Cancels the run wherever it goes on; answers once its end is stored (or after
        CANCEL_WAIT_SECONDS with what is stored)."""
        await self._canceller.cancel(await self._get(actor, run_id))
        return await self._get(actor, run_id)

    async def _get(self, actor: Actor, run_id: str) -> Run:
        async with self._session_factory() as session:
            return await get_run(session, actor, run_id)

    async def _require_room_for_a_run(self, repository: RunRepository, user_id: int) -> None:
        # One process runs every run, so its live runs are all the user's running runs (start-up
        # ended any others as interrupted); with a queue, only the database knows them all.
        running = await repository.running_count(user_id) if self._queue else self._live_runs.count_for(user_id)
        if running >= self._max_runs_per_user:
            raise RateLimited(
                f"you have {self._max_runs_per_user} runs going already (the limit); "
                "wait for one to end or cancel one",
                retry_after_seconds=1,
            )

    async def _enqueue(self, queued: QueuedRun) -> None:
        assert self._queue is not None
        try:
            await self._queue.enqueue(queued)
        except Exception as error:
            logger.exception("could not queue a run", extra={"run_id": str(queued.run_id)})
            with contextlib.suppress(Exception):
                await self._endings.end_unclaimed(queued.run_id, RunStatus.FAILED, error=QUEUE_UNAVAILABLE)
            raise Unavailable("the run queue is unavailable, so the run did not start; try again shortly") from error

    # --- shutting down --------------------------------------------------------------------------

    async def close(self, grace_seconds: float = 0.0) -> None:
        """Shutting down: take no new runs, give live ones `grace_seconds` to end, cancel the
        rest and write what is left of every log. Safe to call again."""
        self.taking_runs = False
        await self._live_runs.wait_for_all(grace_seconds)
        self._live_runs.cancel_all()
        await self._live_runs.wait_for_all(CANCEL_WAIT_SECONDS)
        await self._journal.close()
        if self._streams is not None:
            await self._streams.close()


async def _started(starting: Awaitable[Run], *, on_orphan: Callable[[uuid.UUID], None]) -> Run:
    """Awaits a start that a cancelled caller (a subscription closed at once) cannot leave
    half done: once the run exists, `on_orphan` cancels it instead of leaving it with no follower."""
    task = asyncio.ensure_future(starting)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:

        def orphaned(done: asyncio.Future[Run]) -> None:
            if not done.cancelled() and done.exception() is None:
                on_orphan(done.result().id)

        task.add_done_callback(orphaned)
        raise


def _new_run(
    user_id: int, flow: Flow | None, graph_json: dict[str, Any], *, provider_id: str | None, trigger_node_id: str | None
) -> Run:
    now = utc_now()
    return Run(
        id=uuid.uuid4(),
        user_id=user_id,
        flow_id=flow.id if flow else None,
        status=RunStatus.RUNNING.value,
        provider_id=provider_id,
        trigger_node_id=trigger_node_id,
        graph_data=graph_json,
        created_at=now,
        started_at=now,
        cancel_requested=False,
        attempt=0,
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
