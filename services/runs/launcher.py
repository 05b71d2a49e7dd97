"""A run's engine as a task of its own, appending every event to the run's log.

Both ways a run starts go through here: at once in this process (`RunManager.start`) and
claimed from the queue by a worker (`RunWorker`). The launcher opens the run's record in the
journal, adds the run to the live runs, and ends its log when the engine left it open.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import aclosing
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.base import utc_now
from db.models import Run
from services.execution import events as run_events
from services.execution.catalog import Catalog
from services.execution.events import RunEvent
from services.execution.graph import Graph, GraphLimits
from services.execution.providers.registry import ProviderRegistry
from services.execution.runner import CancelToken, Resume, RunRequest, run_flow
from services.platform.media import MediaDirectory
from services.platform.metrics import Metrics
from services.runs.live import LiveRun, LiveRuns
from services.runs.log.journal import RunJournal, RunOwner, RunRecord
from services.runs.user_lookups import UserCharacters, UserResults

logger = logging.getLogger(__name__)

INTERNAL_RUN_ERROR = "internal error while running this flow (details in the server log)"


class RunLauncher:
    def __init__(
        self,
        *,
        journal: RunJournal,
        live_runs: LiveRuns,
        session_factory: async_sessionmaker[AsyncSession],
        catalog: Catalog,
        providers: ProviderRegistry,
        media: MediaDirectory,
        limits: GraphLimits,
        metrics: Metrics,
        delta_window: float = 0.0,
    ) -> None:
        self._journal = journal
        self._live_runs = live_runs
        self._session_factory = session_factory
        self._catalog = catalog
        self._providers = providers
        self._media = media
        self._limits = limits
        self._metrics = metrics
        self._delta_window = delta_window

    def open(
        self,
        run: Run,
        graph: Graph,
        owner: RunOwner,
        cached_outputs: dict[str, Any],
        *,
        attempt: int | None = None,
        resume: Resume | None = None,
    ) -> LiveRun:
        """The run's record in the journal and its engine's request, ready to launch; live (and
        counted against its user's limit) from now on."""
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
        return self._live_runs.add(LiveRun(run, request, cancel_token, record))

    async def store_and_launch(self, live: LiveRun) -> None:
        """A new run of this process: its row goes with the journal's next group commit, then
        its engine starts. A run whose row could not be stored is forgotten."""
        try:
            await self._journal.create(live.record, live.run)
        except BaseException:
            self._journal.discard(live.run_id)
            self._live_runs.remove(live)
            raise
        self.launch(live)

    def launch(self, live: LiveRun) -> None:
        live.task = asyncio.create_task(self._execute(live), name=f"run {live.run_id}")
        self._metrics.run_started()

    async def fail_unrunnable(self, run: Run, owner: RunOwner, *, stored_seq: int, error: str) -> None:
        """Ends a run that cannot run here with RunFailed after its stored log, through the
        journal; returns once that is stored."""
        record = self._journal.open(
            run.id, owner, flow_id=run.flow_id, node_types={}, on_abandon=_nothing, attempt=run.attempt, stored_seq=stored_seq
        )
        self._journal.append(record, run_events.RunFailed(run_id=str(run.id), seq=stored_seq + 1, at=utc_now(), error=error))
        await record.finished.wait()

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
            self._live_runs.remove(live)
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
