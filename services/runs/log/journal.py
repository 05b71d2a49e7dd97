"""The journal: writes every live run's row, events, node results and outcome, in group commits.

A run started in this process is created through the journal too (`create`): its row goes in
the next group commit, with the rows of the runs started meanwhile, and its starter waits for
that commit (a new run waits for one retry at most: its starter hears at once that the database
is unavailable).

`append` only buffers: the engine does not wait for a write. It waits for the database only
when its unwritten events pile up past `MAX_UNWRITTEN_EVENTS` (`wait_for_room`: the database is
slow or down), so that a run's memory stays bounded. One writer task takes what every live run has
appended (at most `RUN_BATCH_LIMIT` events of each, so a huge run cannot hold up a small one for
more than one batch), writes it in one transaction with a bulk statement per kind of row
(`RunLogStorage`, storage.py), and only after the commit publishes those events to the live tail.
While a write is in flight, new events pile up for the next one: the busier the runs, the larger
the batches.

Faults: a write that fails for a passing reason (connection lost, database locked) is retried
with backoff, continuing where the stored log ends. When the database stays unreachable for
longer than `storage_timeout`, the runs in the batch are ended in memory (the engine cancelled,
followers given a RunFailed numbered after the last stored event) and that same terminal event
keeps being written in the background. A write that fails for good (data the database refuses)
is retried run by run, and only the run at fault fails.

Fencing (distributed mode): a run claimed from the queue carries its attempt number, and every
write checks, in its transaction, that the run is still running under that attempt. A worker
that wakes up after its run was taken over finds it is not: it stops the run's engine and
writes and publishes nothing more of it.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from db.base import utc_now
from db.models import Run, RunStatus
from db.repositories.runs import RunOutcome
from services.events.bus import DomainEvent, EventBus
from services.execution import events as run_events
from services.execution.events import NodeStatus, RunEvent
from services.platform.metrics import Metrics
from services.platform.telemetry import RunSpans
from services.runs.log.storage import EndedRun, GroupCommit, RunLogStorage, RunLogTransaction
from services.runs.log.streams import RunStreams
from services.runs.log.tail import LiveTails

logger = logging.getLogger(__name__)

# Events of one run in one batch: a run that appends thousands at once (a 2,000-node graph)
# shares every batch with the others instead of filling it.
RUN_BATCH_LIMIT = 1_000
# A run whose unwritten events pile up past this waits (the database is slow or down), so a
# run's memory stays bounded.
MAX_UNWRITTEN_EVENTS = 10_000
FIRST_RETRY_DELAY = 0.05
LAST_RETRY_DELAY = 1.0
STORAGE_LOST = "the database was unreachable for too long; the run was stopped"

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


@dataclass(eq=False)
class RunRecord:
    """What the journal knows of one live run."""

    run_id: uuid.UUID
    owner: RunOwner
    flow_id: uuid.UUID | None
    node_types: dict[str, str]
    # Called when the journal gives the run up: the engine must stop.
    on_abandon: Callable[[], None]
    # The queue's attempt that writes the run (distributed mode), checked by every write;
    # None: this process alone runs it.
    attempt: int | None = None
    unwritten: list[RunEvent] = field(default_factory=list)
    last_seq: int = 0  # appended
    stored_seq: int = 0  # durable and published
    ended: bool = False  # its terminal event is appended (or it was given up)
    nodes: dict[str, dict[str, Any]] = field(default_factory=dict)  # node id -> result row
    finished: asyncio.Event = field(default_factory=asyncio.Event)  # terminal event published
    room: asyncio.Event = field(default_factory=asyncio.Event)
    # A run this process creates: its row, for the next group commit, and the caller's wait.
    new_run: Run | None = None
    created: asyncio.Future[None] | None = None


@dataclass(frozen=True)
class _RunPart:
    record: RunRecord
    events: list[RunEvent]
    node_rows: list[dict[str, Any]]
    new_run: Run | None = None  # to insert before anything else (the run has no events yet)

    @property
    def final(self) -> RunEvent | None:
        last = self.events[-1] if self.events else None
        return last if isinstance(last, run_events.FINAL_EVENTS) else None


class RunJournal:
    def __init__(
        self,
        storage: RunLogStorage,
        bus: EventBus,
        tails: LiveTails,
        *,
        metrics: Metrics,
        spans: RunSpans,
        streams: RunStreams | None = None,
        storage_timeout: float = 30.0,
    ) -> None:
        self._storage = storage
        self._metrics = metrics
        self._spans = spans
        self._bus = bus
        self._tails = tails
        self._streams = streams
        self._storage_timeout = storage_timeout
        self._records: dict[uuid.UUID, RunRecord] = {}
        self._ready: dict[uuid.UUID, RunRecord] = {}  # records with unwritten events, in order
        self._work = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None
        self._closing = False
        self._background: set[asyncio.Task[None]] = set()

    # --- what the run's engine task calls ------------------------------------------------------

    def open(
        self,
        run_id: uuid.UUID,
        owner: RunOwner,
        *,
        flow_id: uuid.UUID | None,
        node_types: dict[str, str],
        on_abandon: Callable[[], None],
        attempt: int | None = None,
        stored_seq: int = 0,
    ) -> RunRecord:
        """A run about to append. `stored_seq`: where its stored log ends (a resumed run)."""
        record = RunRecord(run_id, owner, flow_id, node_types, on_abandon, attempt)
        record.last_seq = record.stored_seq = stored_seq
        self._records[run_id] = record
        self._tails.open(run_id, first_seq=stored_seq + 1)
        if self._writer is None:
            self._writer = asyncio.create_task(self._write_forever(), name="run journal")
        return record

    async def create(self, record: RunRecord, run: Run) -> None:
        """Stores the new run's row with the next group commit (the runs started meanwhile go
        in the same statement), before the run appends anything; returns once it is committed,
        raises what kept it from being stored."""
        record.new_run = run
        record.created = asyncio.get_running_loop().create_future()
        self._ready[record.run_id] = record
        self._work.set()
        await asyncio.shield(record.created)

    def append(self, record: RunRecord, event: RunEvent) -> None:
        if record.ended:
            return  # given up, or a second terminal event: the log is closed
        self._spans.observe(event)
        record.unwritten.append(event)
        record.last_seq = event.seq
        record.ended = isinstance(event, run_events.FINAL_EVENTS)
        self._ready[record.run_id] = record
        self._work.set()

    async def wait_for_room(self, record: RunRecord) -> None:
        """Returns at once unless the run's unwritten events have piled up past
        `MAX_UNWRITTEN_EVENTS`; then waits until the writer has taken them."""
        while len(record.unwritten) > MAX_UNWRITTEN_EVENTS and not record.finished.is_set():
            record.room.clear()
            await record.room.wait()

    def discard(self, run_id: uuid.UUID) -> None:
        """A run that never started (its row was not stored)."""
        self._records.pop(run_id, None)
        self._tails.discard(run_id)

    async def close(self, timeout: float = 10.0) -> None:
        """Writes what is buffered, then stops the writer."""
        self._closing = True
        self._work.set()
        if self._writer is not None:
            try:
                await asyncio.wait_for(self._writer, timeout)
            except TimeoutError:
                logger.error("run events left unwritten at shutdown", extra={"runs": len(self._ready)})
        for task in self._background:
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)

    # --- the writer ----------------------------------------------------------------------------

    async def _write_forever(self) -> None:
        while not (self._closing and not self._ready):
            await self._work.wait()
            self._work.clear()
            while parts := self._take():
                await self._store(parts)

    def _take(self) -> list[_RunPart]:
        parts = []
        for run_id, record in list(self._ready.items()):
            del self._ready[run_id]
            if record.new_run is not None:
                parts.append(_RunPart(record, [], [], record.new_run))
                record.new_run = None
                continue
            if not record.unwritten:
                continue
            events = record.unwritten[:RUN_BATCH_LIMIT]
            del record.unwritten[:RUN_BATCH_LIMIT]
            if record.unwritten:
                self._ready[run_id] = record  # the rest goes in the next batch, after the others
            elif not record.room.is_set():
                record.room.set()
            parts.append(_RunPart(record, events, _node_rows(record, events)))
        return parts

    async def _store(self, parts: list[_RunPart]) -> None:
        delay = FIRST_RETRY_DELAY
        failing_since: float | None = None
        while True:
            try:
                fenced = await self._write(parts, retrying=failing_since is not None)
                break
            except Exception as error:
                if not self._storage.is_passing(error):
                    await self._store_one_by_one(parts)
                    return
                now = time.monotonic()
                if failing_since is not None:
                    # A new run's creator waits for one retry, not for the storage timeout:
                    # it hears at once that the database is unavailable, and no run starts.
                    parts = self._without_new_runs(parts, error)
                failing_since = failing_since or now
                logger.warning(
                    "could not write run events; retrying",
                    extra={"runs": len(parts), "error": str(error).splitlines()[0]},
                )
                if now - failing_since > self._storage_timeout:
                    for part in parts:
                        self._abandon(part.record, self._stop(part.record, STORAGE_LOST))
                    return
                if not parts:
                    return
                await asyncio.sleep(delay)
                delay = min(delay * 2, LAST_RETRY_DELAY)
        self._metrics.batch_stored([event for part in parts if part.record.run_id not in fenced for event in part.events])
        self._publish_or_hand_over(parts, fenced)

    def _publish_or_hand_over(self, parts: list[_RunPart], fenced: set[uuid.UUID]) -> None:
        """After a commit: what was stored goes to followers; a run whose fence refused the
        write goes on elsewhere and stops here."""
        for part in parts:
            if part.record.run_id in fenced:
                self._hand_over(part.record)
            elif part.new_run is not None:
                _settle(part.record.created)
            else:
                self._publish(part.record, part.events)

    async def _store_one_by_one(self, parts: list[_RunPart]) -> None:
        """Some row was refused for good: store each run alone, and fail the one at fault."""
        for part in parts:
            try:
                fenced = await self._write([part], retrying=False)
            except Exception as error:
                if part.new_run is not None:
                    self._not_created(part.record, error)
                    continue
                logger.exception("could not store a run's events", extra={"run_id": str(part.record.run_id)})
                await self._fail_unstorable(part.record, error)
            else:
                self._publish_or_hand_over([part], fenced)

    def _without_new_runs(self, parts: list[_RunPart], error: Exception) -> list[_RunPart]:
        for part in parts:
            if part.new_run is not None:
                self._not_created(part.record, error)
        return [part for part in parts if part.new_run is None]

    def _not_created(self, record: RunRecord, error: Exception) -> None:
        """The run's row could not be stored: the run does not start; its creator hears why."""
        self.discard(record.run_id)
        if record.created is not None and not record.created.done():
            record.created.set_exception(error)

    async def _fail_unstorable(self, record: RunRecord, error: Exception) -> None:
        message = f"this run's events could not be stored ({type(error).__name__}); the run was stopped"
        part = self._stop(record, message)
        try:
            fenced = await self._write([part], retrying=False)
        except Exception:
            self._abandon(record, part)
        else:
            self._publish_or_hand_over([part], fenced)

    def _stop(self, record: RunRecord, message: str) -> _RunPart:
        """Stops the run (its engine, its unwritten events); returns its RunFailed, numbered
        after its last stored event, ready to write."""
        record.on_abandon()
        record.unwritten.clear()
        record.ended = True
        self._ready.pop(record.run_id, None)
        final = run_events.RunFailed(run_id=str(record.run_id), seq=record.stored_seq + 1, at=utc_now(), error=message)
        return _RunPart(record, [final], _node_rows(record, [final]))

    async def _write(self, parts: list[_RunPart], *, retrying: bool) -> set[uuid.UUID]:
        """Writes the parts in one transaction; returns the runs whose fence refused the write.
        The runs that ended in it are announced on the bus once it is committed."""
        async with self._storage.transaction() as transaction:
            fenced = await _fenced(transaction, parts)
            parts = [part for part in parts if part.record.run_id not in fenced]
            if retrying:
                # The last attempt may have committed without our hearing of it.
                parts = await _unstored(transaction, parts)
            group = _group_commit(parts)
            await transaction.commit(group)
        if group.ended:
            await self._bus.publish([ended.announcement for ended in group.ended])
        return fenced

    def _publish(self, record: RunRecord, events: list[RunEvent]) -> None:
        if not events:
            return
        record.stored_seq = events[-1].seq
        final = isinstance(events[-1], run_events.FINAL_EVENTS)
        self._announce(record.run_id, events, final=final)
        if final:
            self._forget(record)

    def _hand_over(self, record: RunRecord) -> None:
        """The run was taken over by another worker (its fence refused our write): its engine
        stops here, and this process's followers read it from storage and its stream."""
        logger.warning("run taken over by another worker; this attempt stops", extra={"run_id": str(record.run_id)})
        record.on_abandon()
        record.unwritten.clear()
        record.ended = True
        self._ready.pop(record.run_id, None)
        self._tails.hand_over(record.run_id)
        self._forget(record)

    def _forget(self, record: RunRecord) -> None:
        """The run's end is out: its followers finish, its engine task stops waiting."""
        self._records.pop(record.run_id, None)
        record.finished.set()
        record.room.set()

    def _announce(self, run_id: uuid.UUID, events: list[RunEvent], *, final: bool) -> None:
        """To this process's followers, and through Redis to other processes' (distributed)."""
        self._tails.publish(run_id, events, final=final)
        if self._streams is not None:
            self._streams.publish(run_id, events, final=final)

    def _abandon(self, record: RunRecord, part: _RunPart) -> None:
        """Ends the run for its followers now with `part`'s RunFailed; that end is written when
        the database is back."""
        final = part.events[-1]
        assert isinstance(final, run_events.RunFailed)
        logger.error("run given up: %s", final.error, extra={"run_id": str(record.run_id)})
        self._spans.abandoned(record.run_id, final.at, final.error)
        self._announce(record.run_id, part.events, final=True)
        self._forget(record)
        task = asyncio.create_task(self._store_eventually(part))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _store_eventually(self, part: _RunPart) -> None:
        delay = LAST_RETRY_DELAY
        while True:
            await asyncio.sleep(delay)
            try:
                if await self._write([part], retrying=True):
                    logger.warning("a run's end was not stored: it was taken over", extra={"run_id": str(part.record.run_id)})
                return
            except Exception as error:
                if not self._storage.is_passing(error):
                    logger.exception("could not store a run's end", extra={"run_id": str(part.record.run_id)})
                    return
                delay = min(delay * 2, 30.0)


async def _fenced(transaction: RunLogTransaction, parts: list[_RunPart]) -> set[uuid.UUID]:
    """The runs of these parts whose attempt may no longer write (taken over, or ended)."""
    attempts = {part.record.run_id: part.record.attempt for part in parts if part.record.attempt is not None}
    if not attempts:
        return set()
    return set(attempts) - await transaction.writable(attempts)


async def _unstored(transaction: RunLogTransaction, parts: list[_RunPart]) -> list[_RunPart]:
    new_runs = [part.new_run.id for part in parts if part.new_run is not None]
    created = await transaction.existing(new_runs) if new_runs else set()
    stored = await transaction.last_seqs([part.record.run_id for part in parts if part.new_run is None])
    kept = []
    for part in parts:
        if part.new_run is not None:
            if part.new_run.id not in created:
                kept.append(part)
            continue
        last = stored.get(part.record.run_id, 0)
        events = [event for event in part.events if event.seq > last]
        if events:
            kept.append(_RunPart(part.record, events, part.node_rows))
    return kept


def _group_commit(parts: list[_RunPart]) -> GroupCommit:
    return GroupCommit(
        new_runs=[part.new_run for part in parts if part.new_run is not None],
        events=[_event_row(part.record, event) for part in parts for event in part.events],
        node_results=[row for part in parts for row in part.node_rows],
        ended=[_ended(part.record, part.final) for part in parts if part.final is not None],
    )


def _outcome(record: RunRecord, final: RunEvent) -> RunOutcome:
    return RunOutcome(
        record.run_id,
        FINAL_STATUS[type(final)],
        final.at,
        outputs=final.outputs if isinstance(final, run_events.RunCompleted) else None,
        error=final.error if isinstance(final, run_events.RunFailed) else None,
    )


def _ended(record: RunRecord, final: RunEvent) -> EndedRun:
    outcome = _outcome(record, final)
    return EndedRun(outcome, _announcement(record, outcome))


def _announcement(record: RunRecord, outcome: RunOutcome) -> DomainEvent:
    return DomainEvent(
        name=f"run.{outcome.status.value}",
        user_id=record.owner.user_id,
        project_id=record.owner.project_id,
        session_id=record.owner.session_id,
        payload={
            "runId": str(record.run_id),
            "flowId": None if record.flow_id is None else str(record.flow_id),
            "error": outcome.error,
        },
    )


def _settle(future: asyncio.Future[None] | None) -> None:
    if future is not None and not future.done():
        future.set_result(None)


def _event_row(record: RunRecord, event: RunEvent) -> dict[str, Any]:
    return {
        "event_name": event.event_name,
        "payload": event.to_json(),
        "user_id": record.owner.user_id,
        "project_id": record.owner.project_id,
        "session_id": record.owner.session_id,
        "run_id": record.run_id,
        "seq": event.seq,
        "created_at": event.at,
    }


# --- node results ---------------------------------------------------------------------------


def _node_rows(record: RunRecord, events: Iterable[RunEvent]) -> list[dict[str, Any]]:
    """Applies the events to the run's node results; returns the rows they changed."""
    changed: dict[str, dict[str, Any]] = {}
    for event in events:
        node_id = getattr(event, "node_id", None)
        if node_id is not None and _apply(_node_row(record, node_id), event):
            changed[node_id] = record.nodes[node_id]
    return [dict(row) for row in changed.values()]


def _node_row(record: RunRecord, node_id: str) -> dict[str, Any]:
    row = record.nodes.get(node_id)
    if row is None:
        row = record.nodes[node_id] = {
            "id": uuid.uuid4(),
            "run_id": record.run_id,
            "node_id": node_id,
            "node_type": record.node_types.get(node_id, "unknown"),
            "status": NodeStatus.PENDING.value,
            "output": None,
            "error": None,
            "cache_key": None,
            "started_at": None,
            "finished_at": None,
            "duration_ms": None,
        }
    return row


def _apply(row: dict[str, Any], event: RunEvent) -> bool:
    match event:
        case run_events.NodeStatusChanged(status=status, at=at):
            row["status"] = status.value
            if status is NodeStatus.RUNNING:
                row["started_at"] = at
            elif status is not NodeStatus.PENDING:
                row["finished_at"] = at
        case run_events.NodeCompleted(output=output, at=at, cache_key=key):
            if row["status"] != NodeStatus.CACHED.value:
                row["status"] = NodeStatus.COMPLETED.value
            row.update(output=output, cache_key=key)
            _finished(row, at)
        case run_events.NodeFailed(error=error, at=at):
            row.update(status=NodeStatus.FAILED.value, error=error)
            _finished(row, at)
        case _:
            return False  # deltas change no stored result
    return True


def _finished(row: dict[str, Any], at: Any) -> None:
    row["finished_at"] = at
    if row["started_at"] is not None:
        row["duration_ms"] = (at - row["started_at"]).total_seconds() * 1000
