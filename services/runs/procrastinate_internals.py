"""What the run queue takes from procrastinate beyond its documented API, in one place.

procrastinate's worker stops as soon as one of its side tasks fails, its heartbeat included: a
database away for a moment would stop every worker. Its heartbeat is `App.job_manager.
update_heartbeat(worker_id)`, called by the worker every `update_heartbeat_interval`; the app's
job manager is replaced by one whose heartbeat only logs a failure, before any task is declared
(each task keeps the job manager it was declared with). No setting or hook does this upstream.

The queue also calls the job manager's `get_stalled_jobs`, `prune_stalled_workers` and
`finish_job`, which procrastinate's documentation shows for retrying stalled jobs.
tests/test_library_internals.py fails, naming procrastinate's version, when an upgrade changes
what is relied on here.
"""

from __future__ import annotations

import logging

import procrastinate
from procrastinate.manager import JobManager

logger = logging.getLogger(__name__)


class HeartbeatTolerantJobManager(JobManager):
    """A heartbeat that fails (the database briefly away) is only late: procrastinate's own
    would stop the worker. Missed long enough, other workers take the runs over (fenced)."""

    async def update_heartbeat(self, worker_id: int) -> None:
        try:
            await super().update_heartbeat(worker_id)
        except Exception as error:
            logger.warning("run queue heartbeat failed", extra={"error": str(error)})


def forgive_heartbeat_failures(app: procrastinate.App) -> None:
    """Workers of `app` outlive a failed heartbeat. Called before `app` declares its tasks."""
    app.job_manager = HeartbeatTolerantJobManager(app.connector)
