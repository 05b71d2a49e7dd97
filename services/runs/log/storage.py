"""What the journal needs from storage, and the SQL storage that serves SQLite and PostgreSQL.

The journal writes a group commit in one transaction: it may first ask which runs their attempt
may still write (the fence) and, when retrying, where each run's stored log ends (the last
attempt may have committed without its acknowledgement arriving), then stores everything at
once. `RunLogStorage` is that seam, so the journal's rules can be tested against every storage,
one that fails on command included (tests/run_log/test_journal_contract.py).
"""

from __future__ import annotations

import uuid
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, ProgrammingError, StatementError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import Run, RunStatus
from db.repositories.events import EventLogRepository
from db.repositories.runs import RunOutcome, RunRepository
from services.events.bus import DomainEvent


@dataclass(frozen=True)
class EndedRun:
    """A run whose terminal event is in the group commit: its row's outcome and the domain
    event that announces it."""

    outcome: RunOutcome
    announcement: DomainEvent


@dataclass(frozen=True)
class GroupCommit:
    """Everything one group commit stores, each kind of row in one bulk statement."""

    new_runs: Sequence[Run]
    events: Sequence[Mapping[str, Any]]  # event_logs rows of the runs' events
    node_results: Sequence[Mapping[str, Any]]  # inserted or replaced by (run_id, node_id)
    ended: Sequence[EndedRun]


class RunLogTransaction(ABC):
    """One transaction of the journal: what it reads, then the commit that ends it."""

    @abstractmethod
    async def writable(self, attempts: Mapping[uuid.UUID, int]) -> set[uuid.UUID]:
        """Of these runs (id -> the attempt about to write), those still running under that
        attempt; none of them can be claimed by another attempt before this transaction ends."""

    @abstractmethod
    async def existing(self, run_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
        """Those of these runs whose row is stored."""

    @abstractmethod
    async def last_seqs(self, run_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
        """Where each run's stored log ends (runs without a stored event are left out)."""

    @abstractmethod
    async def commit(self, group: GroupCommit) -> None:
        """Stores the whole group and commits it, or stores none of it and raises."""


class RunLogStorage(ABC):
    @abstractmethod
    def transaction(self) -> AbstractAsyncContextManager[RunLogTransaction]:
        """A transaction; leaving it without `commit` stores nothing."""

    def is_passing(self, error: Exception) -> bool:
        """Whether a failed transaction may succeed when tried again (a connection lost, the
        database locked or down), rather than being refused for good for its data. A value
        that cannot even be sent fails every time."""
        return not isinstance(error, ValueError | TypeError)


# SQLSTATE classes of data the database refuses for what it is: data exceptions (a NUL byte in
# text), integrity violations, syntax or access errors.
_REFUSED_SQLSTATE_CLASSES = ("22", "23", "42")


class SqlRunLogStorage(RunLogStorage):
    """The run log in the database (db/repositories/runs.py): bulk statements through
    SQLAlchemy Core, one of each kind of row a group commit holds."""

    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        self._session_factory = session_factory

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[RunLogTransaction]:
        async with self._session_factory() as session:
            yield _SqlTransaction(session)

    def is_passing(self, error: Exception) -> bool:
        if isinstance(error, DBAPIError):
            if isinstance(error, IntegrityError | DataError | ProgrammingError):
                return False
            sqlstate = getattr(error.orig, "sqlstate", None)
            return not (isinstance(sqlstate, str) and sqlstate[:2] in _REFUSED_SQLSTATE_CLASSES)
        # A value the driver cannot send (StatementError wraps those) fails every time.
        return not isinstance(error, StatementError) and super().is_passing(error)


class _SqlTransaction(RunLogTransaction):
    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self._runs = RunRepository(session)

    async def writable(self, attempts: Mapping[uuid.UUID, int]) -> set[uuid.UUID]:
        # The rows stay share-locked until the commit: a claim waits for this write.
        return await self._runs.writable(attempts)

    async def existing(self, run_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
        return await self._runs.existing(run_ids)

    async def last_seqs(self, run_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
        return await self._runs.last_seqs(run_ids)

    async def commit(self, group: GroupCommit) -> None:
        await self._runs.insert_runs(group.new_runs)
        await self._runs.append_events(group.events)
        await self._runs.save_node_results(group.node_results)
        if group.ended:
            outcomes = [ended.outcome for ended in group.ended]
            await self._runs.finish(outcomes)
            # A completed run has no node left open (the engine completes it after its last node).
            await self._runs.close_unfinished_node_results(
                [outcome for outcome in outcomes if outcome.status is not RunStatus.COMPLETED]
            )
            await EventLogRepository(self._session).insert_many([ended.announcement.columns() for ended in group.ended])
        await self._session.commit()
