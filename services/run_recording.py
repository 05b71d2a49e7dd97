"""Writes a run as it goes: its events to `event_logs`, each node's result, the run's outcome.

Events arrive far faster than one transaction each could keep up with (a streamed answer is
hundreds of deltas), so the recorder buffers them and writes a batch per transaction: when
`BATCH_SIZE` are waiting or `FLUSH_INTERVAL_SECONDS` after the first of them, whichever comes
first, and at the end of the run.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import EventLog, Run, RunNodeResult, RunStatus
from services.events import EventBus, commit, record_event
from services.execution import events as run_events
from services.execution.events import NodeStatus, RunEvent

logger = logging.getLogger(__name__)

BATCH_SIZE = 500
FLUSH_INTERVAL_SECONDS = 0.05

# The run's status once its last event is in.
FINAL_STATUS = {
    run_events.RunCompleted: RunStatus.COMPLETED,
    run_events.RunFailed: RunStatus.FAILED,
    run_events.RunCancelled: RunStatus.CANCELLED,
}


@dataclass(frozen=True)
class RunOwner:
    user_id: int
    project_id: int | None
    session_id: str | None


class RunRecorder:
    def __init__(
        self,
        run: Run,
        owner: RunOwner,
        session_factory: async_sessionmaker[AsyncSession],
        bus: EventBus,
        node_types: dict[str, str],
        write_lock: asyncio.Lock | None = None,
    ) -> None:
        self.run = run
        self.owner = owner
        self._session_factory = session_factory
        self._bus = bus
        self._node_types = node_types
        self._results: dict[str, RunNodeResult] = {}
        self._pending: list[RunEvent] = []
        # Shared by every recorder of a RunManager: one write at a time, so that recording
        # holds one pooled connection however many runs go on (each waiting recorder's batch
        # just grows), and the rest of the pool stays free for requests.
        self._lock = write_lock or asyncio.Lock()
        self._flush_soon: asyncio.TimerHandle | None = None
        self._background: set[asyncio.Task[None]] = set()

    def record(self, event: RunEvent) -> None:
        """Buffer the event; it reaches the database within FLUSH_INTERVAL_SECONDS."""
        self._pending.append(event)
        if len(self._pending) >= BATCH_SIZE:
            self._flush_in_background()
        elif self._flush_soon is None:
            self._flush_soon = asyncio.get_running_loop().call_later(
                FLUSH_INTERVAL_SECONDS, self._flush_in_background
            )

    async def finish(self, final: RunEvent) -> None:
        """Write what is left and the run's outcome, then tell the owner (notifications)."""
        if self._flush_soon is not None:
            self._flush_soon.cancel()
            self._flush_soon = None
        async with self._lock, self._session_factory() as session:
            self._write_pending(session)
            self._close_open_results(final.at)
            self._close_run(final)
            record_event(
                session,
                f"run.{self.run.status}",
                user_id=self.owner.user_id,
                project_id=self.owner.project_id,
                session_id=self.owner.session_id,
                payload={"runId": str(self.run.id), "flowId": _str(self.run.flow_id), "error": self.run.error},
            )
            await commit(session, self._bus)

    def _flush_in_background(self) -> None:
        self._flush_soon = None
        task = asyncio.create_task(self._flush())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _flush(self) -> None:
        try:
            async with self._lock, self._session_factory() as session:
                self._write_pending(session)
                await session.commit()
        except Exception:
            # The events stay in memory for the live stream; the final flush tries again.
            logger.exception("could not write run events", extra={"run_id": str(self.run.id)})

    def _write_pending(self, session: AsyncSession) -> None:
        batch, self._pending = self._pending, []
        for event in batch:
            session.add(self._log_row(event))
            self._apply_to_results(event, session)
        # Node results and the run row carry over from batch to batch.
        session.add(self.run)
        for result in self._results.values():
            session.add(result)

    def _log_row(self, event: RunEvent) -> EventLog:
        return EventLog(
            event_name=event.event_name,
            payload=event.to_json(),
            user_id=self.owner.user_id,
            project_id=self.owner.project_id,
            session_id=self.owner.session_id,
            run_id=self.run.id,
            seq=event.seq,
            created_at=event.at,
        )

    def _apply_to_results(self, event: RunEvent, session: AsyncSession) -> None:
        match event:
            case run_events.NodeStatusChanged(node_id=node_id, status=status, at=at):
                result = self._result(node_id)
                result.status = status.value
                if status is NodeStatus.RUNNING:
                    result.started_at = at
                elif status is not NodeStatus.PENDING:
                    result.finished_at = at
            case run_events.NodeCompleted(node_id=node_id, output=output, at=at, cache_key=key):
                result = self._result(node_id)
                if result.status != NodeStatus.CACHED.value:
                    result.status = NodeStatus.COMPLETED.value
                result.output = output
                result.cache_key = key
                _finish_result(result, at)
            case run_events.NodeFailed(node_id=node_id, error=error, at=at):
                result = self._result(node_id)
                result.status = NodeStatus.FAILED.value
                result.error = error
                _finish_result(result, at)

    def _result(self, node_id: str) -> RunNodeResult:
        result = self._results.get(node_id)
        if result is None:
            result = RunNodeResult(
                id=uuid.uuid4(),
                run_id=self.run.id,
                node_id=node_id,
                node_type=self._node_types.get(node_id, "unknown"),
                status=NodeStatus.PENDING.value,
            )
            self._results[node_id] = result
        return result

    def _close_open_results(self, at: datetime) -> None:
        """Nodes that never finished (a cancelled or aborted run) end as cancelled."""
        for result in self._results.values():
            if result.status in (NodeStatus.PENDING.value, NodeStatus.RUNNING.value):
                result.status = NodeStatus.CANCELLED.value
                result.finished_at = at

    def _close_run(self, final: RunEvent) -> None:
        self.run.status = FINAL_STATUS.get(type(final), RunStatus.FAILED).value
        self.run.finished_at = final.at
        if isinstance(final, run_events.RunCompleted):
            self.run.outputs = final.outputs
        if isinstance(final, run_events.RunFailed):
            self.run.error = final.error


def _finish_result(result: RunNodeResult, at: datetime) -> None:
    result.finished_at = at
    if result.started_at is not None:
        result.duration_ms = (at - result.started_at).total_seconds() * 1000


def _str(value: object | None) -> str | None:
    return None if value is None else str(value)
