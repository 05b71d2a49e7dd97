"""The runs going on in this process: the one registry every role of the run service shares.

Starting, the worker's side, cancelling and shutting down each reach a live run through
`LiveRuns` only; none of them keeps runs of its own.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from dataclasses import dataclass

from db.models import Run
from services.execution.runner import CancelToken, RunRequest
from services.runs.log.journal import RunRecord


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


class LiveRuns:
    """This process's live runs by id, counted per user."""

    def __init__(self) -> None:
        self._by_id: dict[uuid.UUID, LiveRun] = {}
        self._per_user: Counter[int] = Counter()

    def add(self, live: LiveRun) -> LiveRun:
        self._by_id[live.run_id] = live
        self._per_user[live.run.user_id] += 1
        return live

    def remove(self, live: LiveRun) -> None:
        if self._by_id.pop(live.run_id, None) is not None:
            self._per_user[live.run.user_id] -= 1
            if not self._per_user[live.run.user_id]:
                del self._per_user[live.run.user_id]

    def get(self, run_id: uuid.UUID) -> LiveRun | None:
        return self._by_id.get(run_id)

    def count_for(self, user_id: int) -> int:
        return self._per_user[user_id]

    def cancel(self, run_id: uuid.UUID) -> bool:
        """Cancels the run if it goes on here; False if it does not."""
        live = self._by_id.get(run_id)
        if live is None:
            return False
        live.cancel()
        return True

    def cancel_all(self) -> None:
        for live in list(self._by_id.values()):
            live.cancel()

    async def wait_for_all(self, timeout: float) -> None:
        """Until every live run's task has ended, or `timeout` seconds."""
        tasks = [live.task for live in self._by_id.values() if live.task is not None]
        if tasks and timeout > 0:
            await asyncio.wait(tasks, timeout=timeout)
