"""The worker's side of distributed mode: a queued run, claimed here, executed until its end is
stored (or it is taken over); a run whose earlier worker died resumes after its stored log.

The queue (services.runs.queue) calls `RunWorker` for each job it claims and for each run of a
dead worker it does not resume.
"""

from __future__ import annotations

import logging
import uuid

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.repositories.runs import RunRepository
from services.errors import BadInput
from services.execution.graph import GraphLimits
from services.execution.runner import Resume
from services.projects.flows import parsed_graph
from services.runs.endings import RunEndings
from services.runs.launcher import RunLauncher
from services.runs.live import LiveRun
from services.runs.log.journal import RunOwner
from services.runs.queue import QueuedRun

logger = logging.getLogger(__name__)


class RunWorker:
    def __init__(
        self,
        *,
        session_factory: async_sessionmaker[AsyncSession],
        launcher: RunLauncher,
        endings: RunEndings,
        limits: GraphLimits,
        worker_id: str,
    ) -> None:
        self._session_factory = session_factory
        self._launcher = launcher
        self._endings = endings
        self._limits = limits
        self._worker_id = worker_id

    async def execute_queued(self, queued: QueuedRun) -> None:
        """Executes the run here until its end is stored (or it is taken over)."""
        live = await self._claim(queued)
        if live is None:
            return
        self._launcher.launch(live)
        assert live.task is not None
        await live.task

    async def interrupt_stalled(self, run_id: uuid.UUID) -> None:
        """STALLED_RUNS=interrupt: a run whose worker died ends as interrupted."""
        await self._endings.interrupt(run_id)

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
            await self._launcher.fail_unrunnable(run, owner, stored_seq=stored_seq, error=error.message)
            return None
        resume = Resume(after_seq=stored_seq, completed=completed) if stored_seq else None
        live = self._launcher.open(run, graph, owner, queued.cached_outputs or {}, attempt=run.attempt, resume=resume)
        if run.cancel_requested:
            live.cancel()
        return live

