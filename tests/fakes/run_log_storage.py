"""Run log storages for the journal's contract tests: one in memory, and one that fails on command.

`InMemoryRunLogStorage` keeps what the database would, and refuses what it would refuse (a run
stored twice, an event with a seq its run already has, an event of a run that is not stored).
`FaultyRunLogStorage` wraps any storage (that one, or the SQL one on SQLite and PostgreSQL) and
fails on command: queue faults with `fail_next` (each commit consumes one), refuse data for good
with `refuse_text`, take the database down and bring it back, or hold every commit until
released. It keeps every group commit that went through.
"""

from __future__ import annotations

import asyncio
import enum
import json
import uuid
from collections import deque
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

from db.models import Run, RunStatus
from services.events.bus import DomainEvent
from services.runs.log.storage import GroupCommit, RunLogStorage, RunLogTransaction

UNFINISHED_NODE_STATUSES = ("pending", "running")


class StorageUnreachable(ConnectionError):
    """A passing fault: the connection was lost, or the database is down."""


class DataRefused(Exception):
    """Data the storage refuses for what it is: trying again fails the same way."""


class Fault(enum.Enum):
    CONNECTION_LOST = "the connection is lost before the commit"
    ACKNOWLEDGEMENT_LOST = "the commit happens, but its acknowledgement is lost"


class InMemoryRunLogStorage(RunLogStorage):
    def __init__(self) -> None:
        self.runs: dict[uuid.UUID, dict[str, Any]] = {}
        self.events: dict[uuid.UUID, dict[int, Mapping[str, Any]]] = {}
        self.node_results: dict[tuple[uuid.UUID, str], dict[str, Any]] = {}
        self.announcements: list[DomainEvent] = []

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[RunLogTransaction]:
        yield _InMemoryTransaction(self)

    def is_passing(self, error: Exception) -> bool:
        return not isinstance(error, DataRefused) and super().is_passing(error)

    def insert_run(self, run: Run) -> None:
        """A run stored by someone else (the queue, in distributed mode)."""
        self.runs[run.id] = {column: getattr(run, column) for column in Run.__table__.columns.keys()}

    def claim(self, run_id: uuid.UUID) -> int:
        """A worker takes the run on: the attempts before are fenced off."""
        self.runs[run_id]["attempt"] += 1
        return int(self.runs[run_id]["attempt"])

    def store(self, group: GroupCommit) -> None:
        self._check(group)
        for run in group.new_runs:
            self.insert_run(run)
        for row in group.events:
            self.events.setdefault(row["run_id"], {})[row["seq"]] = row
        for row in group.node_results:
            key = (row["run_id"], row["node_id"])
            kept_id = self.node_results[key]["id"] if key in self.node_results else row["id"]
            self.node_results[key] = {**row, "id": kept_id}
        for ended in group.ended:
            outcome = ended.outcome
            self.runs[outcome.run_id].update(
                status=outcome.status.value, finished_at=outcome.finished_at, outputs=outcome.outputs, error=outcome.error
            )
            for result in self.node_results.values():
                if result["run_id"] == outcome.run_id and result["status"] in UNFINISHED_NODE_STATUSES:
                    result.update(status="cancelled", finished_at=outcome.finished_at)
        self.announcements.extend(ended.announcement for ended in group.ended)

    def _check(self, group: GroupCommit) -> None:
        """What the database's keys refuse: nothing of the group is stored then."""
        new_runs = [run.id for run in group.new_runs]
        if len(set(new_runs)) < len(new_runs) or set(new_runs) & set(self.runs):
            raise DataRefused("a run is stored twice")
        known = set(self.runs) | set(new_runs)
        seqs = [(row["run_id"], row["seq"]) for row in group.events]
        if len(set(seqs)) < len(seqs) or any(seq in self.events.get(run_id, {}) for run_id, seq in seqs):
            raise DataRefused("an event is stored twice")
        if any(run_id not in known for run_id, _ in seqs) or any(row["run_id"] not in known for row in group.node_results):
            raise DataRefused("the run is not stored")


class _InMemoryTransaction(RunLogTransaction):
    def __init__(self, storage: InMemoryRunLogStorage) -> None:
        self._storage = storage

    async def writable(self, attempts: Mapping[uuid.UUID, int]) -> set[uuid.UUID]:
        runs = self._storage.runs
        return {
            run_id
            for run_id, attempt in attempts.items()
            if run_id in runs and runs[run_id]["status"] == RunStatus.RUNNING.value and runs[run_id]["attempt"] == attempt
        }

    async def existing(self, run_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
        return set(run_ids) & set(self._storage.runs)

    async def last_seqs(self, run_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
        events = self._storage.events
        return {run_id: max(events[run_id]) for run_id in run_ids if events.get(run_id)}

    async def commit(self, group: GroupCommit) -> None:
        self._storage.store(group)


class FaultyRunLogStorage(RunLogStorage):
    def __init__(self, storage: RunLogStorage) -> None:
        self._storage = storage
        self._faults: deque[Fault] = deque()
        self._refused_texts: list[str] = []
        self._down = False
        self._open = asyncio.Event()  # set: commits go through; clear: they wait (held)
        self._open.set()
        self._held = asyncio.Event()  # a commit waits to go through
        self.commits: list[GroupCommit] = []  # those that were committed

    def fail_next(self, *faults: Fault) -> None:
        self._faults.extend(faults)

    def refuse_text(self, text: str) -> None:
        """Refuse, for good, every commit holding an event whose payload holds `text` (what
        PostgreSQL does with a NUL byte in text)."""
        self._refused_texts.append(text)

    def go_down(self) -> None:
        self._down = True

    def come_back(self) -> None:
        self._down = False

    def hold(self) -> None:
        """Commits wait (a slow database) until `release`."""
        self._open.clear()
        self._held.clear()

    async def until_a_commit_is_held(self) -> None:
        await asyncio.wait_for(self._held.wait(), timeout=10)

    def release(self) -> None:
        self._open.set()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[RunLogTransaction]:
        self._refuse_connection_while_down()
        async with self._storage.transaction() as transaction:
            yield _FaultyTransaction(self, transaction)

    def is_passing(self, error: Exception) -> bool:
        return not isinstance(error, DataRefused) and self._storage.is_passing(error)

    async def commit(self, transaction: RunLogTransaction, group: GroupCommit) -> None:
        if not self._open.is_set():
            self._held.set()
            await self._open.wait()
        self._refuse_connection_while_down()
        if self._refuses(group):
            raise DataRefused("the database refuses this data")
        fault = self._faults.popleft() if self._faults else None
        if fault is Fault.CONNECTION_LOST:
            raise StorageUnreachable(fault.value)
        await transaction.commit(group)
        self.commits.append(group)
        if fault is Fault.ACKNOWLEDGEMENT_LOST:
            raise StorageUnreachable(fault.value)

    def _refuse_connection_while_down(self) -> None:
        if self._down:
            raise StorageUnreachable("the database is down")

    def _refuses(self, group: GroupCommit) -> bool:
        if not self._refused_texts:
            return False
        payloads = [json.dumps(row["payload"]) for row in group.events]
        return any(text in payload for text in self._refused_texts for payload in payloads)


class _FaultyTransaction(RunLogTransaction):
    def __init__(self, storage: FaultyRunLogStorage, transaction: RunLogTransaction) -> None:
        self._storage = storage
        self._transaction = transaction

    async def writable(self, attempts: Mapping[uuid.UUID, int]) -> set[uuid.UUID]:
        return await self._transaction.writable(attempts)

    async def existing(self, run_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
        return await self._transaction.existing(run_ids)

    async def last_seqs(self, run_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
        return await self._transaction.last_seqs(run_ids)

    async def commit(self, group: GroupCommit) -> None:
        await self._storage.commit(self._transaction, group)
