"""The run queue (distributed mode): runs wait in PostgreSQL until a worker executes them.

Built on procrastinate, whose tables our migrations create (migrations/sql/):
- `RunQueue.enqueue` defers one `execute_run` job per run. A worker process (`main.py worker`,
  or `serve` unless `--no-worker`) runs procrastinate's worker, which claims jobs and keeps a
  heartbeat; each job executes its run (`QueuedRunExecutor.execute_queued`, services.runs.worker) until the run ends.
- Every `stalled_check_seconds` a periodic job (one per tick across all workers) finds the jobs
  of workers whose heartbeat is older than `dead_after_seconds`. Each such run is queued again,
  as a new job, and whichever worker claims it resumes it from its completed nodes; or, with
  `resume_stalled` off, the run is ended as interrupted. The stalled job itself is marked
  failed, so its worker, should it wake up, cannot finish it over the new one.
- Claims are fenced by the run's attempt number (services.runs.log.journal): a worker that wakes
  up after its run was taken over cannot write.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from typing import Any, Protocol

import procrastinate
from procrastinate.exceptions import AlreadyEnqueued
from procrastinate.jobs import Job, Status
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from services.runs.procrastinate_internals import forgive_heartbeat_failures

logger = logging.getLogger(__name__)

QUEUE = "runs"
EXECUTE_RUN = "execute_run"
RETRY_STALLED_RUNS = "retry_stalled_runs"
RESTART_DELAY_SECONDS = 1.0
# A claim that fails for a passing reason (the database away, the run's row locked by a frozen
# worker) is tried again; the run itself never raises (its failures are events).
CLAIM_RETRIES = procrastinate.RetryStrategy(max_attempts=30, wait=2, retry_exceptions={DBAPIError, OSError})


@dataclass(frozen=True)
class QueuedRun:
    """What a worker needs besides the stored run: the job's arguments."""

    run_id: uuid.UUID
    session_id: str | None = None
    cached_outputs: dict[str, Any] | None = None

    def to_job(self) -> dict[str, Any]:
        return {"run_id": str(self.run_id), "session_id": self.session_id, "cached_outputs": self.cached_outputs}

    @classmethod
    def from_job(cls, arguments: dict[str, Any]) -> QueuedRun:
        return cls(uuid.UUID(arguments["run_id"]), arguments.get("session_id"), arguments.get("cached_outputs"))


class QueuedRunExecutor(Protocol):
    """What the queue's worker calls (services.runs.worker.RunWorker)."""

    async def execute_queued(self, queued: QueuedRun) -> None:
        """Executes the run here until its end is stored (or it is taken over)."""

    async def interrupt_stalled(self, run_id: uuid.UUID) -> None:
        """Ends a run whose worker died as interrupted."""


class RunQueue:
    def __init__(
        self,
        database_url: str,
        *,
        dead_after_seconds: float,
        stalled_check_seconds: int,
        resume_stalled: bool,
        concurrency: int,
    ) -> None:
        self._dead_after_seconds = dead_after_seconds
        self._resume_stalled = resume_stalled
        self._concurrency = concurrency
        self._executor: QueuedRunExecutor | None = None
        self._worker: asyncio.Task[None] | None = None
        self.app = procrastinate.App(
            connector=procrastinate.PsycopgConnector(conninfo=libpq_address(database_url), min_size=1, max_size=10)
        )
        forgive_heartbeat_failures(self.app)
        self._execute_run = self.app.task(name=EXECUTE_RUN, queue=QUEUE, retry=CLAIM_RETRIES)(self._execute)
        retry_task = self.app.task(name=RETRY_STALLED_RUNS, queue=QUEUE, queueing_lock=RETRY_STALLED_RUNS)(
            self._retry_stalled_runs
        )
        # A sixth cron field counts seconds.
        self.app.periodic(cron=f"* * * * * */{stalled_check_seconds}")(retry_task)

    async def open(self) -> None:
        await self.app.open_async()

    async def close(self) -> None:
        await self.stop_worker()
        await self.app.close_async()

    async def enqueue(self, queued: QueuedRun) -> None:
        await self._execute_run.configure(queueing_lock=_run_lock(queued.run_id)).defer_async(**queued.to_job())

    def start_worker(self, executor: QueuedRunExecutor) -> None:
        """This process executes queued runs from now on (until `stop_worker`)."""
        self._executor = executor
        self._worker = asyncio.create_task(self._work_forever(), name="run queue worker")

    async def stop_worker(self) -> None:
        """Claims no more runs. Runs going on here are left to their owner (RunManager.close)."""
        if self._worker is not None:
            self._worker.cancel()
            await asyncio.gather(self._worker, return_exceptions=True)
            self._worker = None

    async def _work_forever(self) -> None:
        # Procrastinate's worker stops when one of its side tasks fails (its listener or its
        # heartbeat losing the database): a new one starts, since jobs would wait otherwise.
        while True:
            try:
                await self.app.run_worker_async(
                    queues=[QUEUE],
                    concurrency=self._concurrency,
                    install_signal_handlers=False,
                    update_heartbeat_interval=max(self._dead_after_seconds / 5, 0.5),
                    stalled_worker_timeout=self._dead_after_seconds,
                    # Jobs still going when the worker stops are let go at once: the runs
                    # themselves are shielded from that and ended by their owner.
                    shutdown_graceful_timeout=0,
                    delete_jobs="successful",
                )
            except asyncio.CancelledError:
                raise
            except Exception as error:
                logger.warning("run queue worker stopped; starting again", extra={"error": str(error)})
            await asyncio.sleep(RESTART_DELAY_SECONDS)

    async def _execute(self, **arguments: Any) -> None:
        assert self._executor is not None
        queued = QueuedRun.from_job(arguments)
        # Shielded: procrastinate cancels a job's task when its worker stops; the run is then
        # ended by its owner (RunManager.close), with a terminal event, not cut off mid-write.
        await asyncio.shield(self._executor.execute_queued(queued))

    async def _retry_stalled_runs(self, timestamp: int) -> None:
        assert self._executor is not None
        stalled = await self.app.job_manager.get_stalled_jobs(
            queue=QUEUE, task_name=EXECUTE_RUN, seconds_since_heartbeat=self._dead_after_seconds
        )
        for job in stalled:
            await self._take_over(job, self._executor)
        await self.app.job_manager.prune_stalled_workers(self._dead_after_seconds)

    async def _take_over(self, job: Job, executor: QueuedRunExecutor) -> None:
        queued = QueuedRun.from_job(job.task_kwargs)
        if self._resume_stalled:
            try:
                await self.enqueue(queued)
            except AlreadyEnqueued:
                pass  # queued again already (an earlier tick that did not get to the next step)
        else:
            await executor.interrupt_stalled(queued.run_id)
        await self.app.job_manager.finish_job(job, status=Status.FAILED, delete_job=False)
        logger.warning(
            "run of a stopped worker %s",
            "queued again" if self._resume_stalled else "ended",
            extra={"run_id": str(queued.run_id), "job_id": job.id},
        )


def _run_lock(run_id: uuid.UUID) -> str:
    # At most one job of a run waits in the queue.
    return f"run:{run_id}"


def libpq_address(database_url: str) -> str:
    """The SQLAlchemy address of the database (postgresql+asyncpg://...) as libpq spells it."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
