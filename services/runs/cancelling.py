"""Cancelling a run wherever it goes on: here through its live run; in distributed mode, in
another process through the cluster (a stored request first, then the announcement; a sweep
finds the requests whose announcement was missed)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import Run, RunStatus
from db.repositories.runs import RunRepository
from services.execution.events import RunEvent
from services.runs.cluster import Cluster
from services.runs.endings import RunEndings
from services.runs.live import LiveRuns
from services.runs.log.follow import RunLogs

# cancelRun answers once the run's end is stored, or after this long with what is stored.
CANCEL_WAIT_SECONDS = 10.0


class RunCanceller:
    def __init__(
        self,
        *,
        session_factory: async_sessionmaker[AsyncSession],
        live_runs: LiveRuns,
        logs: RunLogs,
        endings: RunEndings,
        cluster: Cluster | None = None,
    ) -> None:
        self._session_factory = session_factory
        self._live_runs = live_runs
        self._logs = logs
        self._endings = endings
        self._cluster = cluster
        self._background: set[asyncio.Task[Any]] = set()

    async def cancel(self, run: Run) -> None:
        """Cancels the run; returns once its end is stored, or after CANCEL_WAIT_SECONDS."""
        live = self._live_runs.get(run.id)
        if live is not None:
            live.cancel()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(live.record.finished.wait(), CANCEL_WAIT_SECONDS)
        elif self._cluster is not None and run.status == RunStatus.RUNNING.value:
            last_seq = await self._cancel_elsewhere(run.id)
            if last_seq is not None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(_until_the_end(self._logs.follow(run.id, after_seq=last_seq)), CANCEL_WAIT_SECONDS)

    def stop_unfollowed(self, run_id: uuid.UUID) -> None:
        """A runFlow closed before its run ended: the run is cancelled, wherever it goes on."""
        if self._live_runs.cancel(run_id) or self._cluster is None:
            return
        task = asyncio.create_task(self._cancel_elsewhere(run_id), name=f"cancel run {run_id}")
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def cancel_here(self, run_id: uuid.UUID) -> None:
        """A cancel announced by another process, for a run that may be going on here."""
        self._live_runs.cancel(run_id)

    async def sweep(self) -> None:
        """Distributed mode, every few seconds: cancel this process's runs whose cancel request
        was stored but not heard."""
        assert self._cluster is not None
        async with self._session_factory() as session:
            requested = await RunRepository(session).cancel_requested(self._cluster.worker_id)
        for run_id in requested:
            self.cancel_here(run_id)

    async def _cancel_elsewhere(self, run_id: uuid.UUID) -> int | None:
        """A run no worker has claimed yet ends at once (None); a claimed one is asked to stop,
        wherever it goes on (returns its last stored seq, to follow it to its end)."""
        assert self._cluster is not None
        # The cluster comes with the queue (both are distributed mode): the run may be unclaimed.
        if await self._endings.end_unclaimed(run_id, RunStatus.CANCELLED):
            return None
        # Stored first: the process running it finds the request even if the announcement is lost.
        async with self._session_factory() as session:
            repository = RunRepository(session)
            await repository.request_cancel(run_id)
            last_seq = await repository.last_seq(run_id)
            await session.commit()
        await self._cluster.announce_cancel(run_id)
        return last_seq


async def _until_the_end(events: AsyncIterator[RunEvent]) -> None:
    async for _ in events:
        pass
