"""The journal's rules (ARCHITECTURE.md, "The run path"), each a test run against every storage.

Like Dagster's `TestEventLogStorage`: `JournalContract` holds the tests, and each storage is a
subclass that provides it: memory, and the database (SQLite, and PostgreSQL when
TEST_DATABASE_URL is set). Every storage is wrapped in one that fails on command
(tests/fakes/run_log_storage.py). The tests drive the journal as the engine does (open, create,
append, wait_for_room), follow runs through the live tail as followers do, and read back what
each storage holds.
"""

from __future__ import annotations

import asyncio
import uuid
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import Run, RunNodeResult, RunStatus, User
from db.repositories.runs import RunRepository
from services.events.bus import ALL_EVENTS, DomainEvent, EventBus, EventHandlers
from services.execution import events as run_events
from services.execution.events import NodeStatus, RunEvent
from services.platform.metrics import Metrics
from services.platform.telemetry import RunSpans
from services.runs.log.journal import MAX_UNWRITTEN_EVENTS, RUN_BATCH_LIMIT, RunJournal, RunOwner, RunRecord
from services.runs.log.storage import GroupCommit, RunLogStorage, SqlRunLogStorage
from services.runs.log.tail import LiveTails, RunTail
from tests.fakes.run_log_storage import (
    DataRefused,
    Fault,
    FaultyRunLogStorage,
    InMemoryRunLogStorage,
    StorageUnreachable,
)
from tests.waiting import wait_until

AT = datetime(2026, 12, 1, tzinfo=UTC)
REFUSED = "text the database refuses"
class StoredRuns(ABC):
    """What a storage holds, read back for the tests; and a run stored as the queue does."""

    user_id: int

    @abstractmethod
    async def log(self, run_id: uuid.UUID) -> list[tuple[int, str]]:
        """The run's stored events: (seq, event name), in seq order."""

    @abstractmethod
    async def status(self, run_id: uuid.UUID) -> str | None:
        """The stored run's status; None when it is not stored."""

    @abstractmethod
    async def node_statuses(self, run_id: uuid.UUID) -> dict[str, str]:
        """Node id -> status of the run's stored node results."""

    @abstractmethod
    async def insert_run(self, run: Run) -> None: ...

    @abstractmethod
    async def claim(self, run_id: uuid.UUID) -> int:
        """Counts the run's attempt up, as a worker's claim does; returns the new attempt."""


class InMemoryRuns(StoredRuns):
    def __init__(self, storage: InMemoryRunLogStorage) -> None:
        self._storage = storage
        self.user_id = 1

    async def log(self, run_id: uuid.UUID) -> list[tuple[int, str]]:
        events = self._storage.events.get(run_id, {})
        return [(seq, events[seq]["event_name"]) for seq in sorted(events)]

    async def status(self, run_id: uuid.UUID) -> str | None:
        run = self._storage.runs.get(run_id)
        return None if run is None else str(run["status"])

    async def node_statuses(self, run_id: uuid.UUID) -> dict[str, str]:
        results = self._storage.node_results.values()
        return {result["node_id"]: result["status"] for result in results if result["run_id"] == run_id}

    async def insert_run(self, run: Run) -> None:
        self._storage.insert_run(run)

    async def claim(self, run_id: uuid.UUID) -> int:
        return self._storage.claim(run_id)


class DatabaseRuns(StoredRuns):
    def __init__(self, session_factory: async_sessionmaker[AsyncSession], user_id: int) -> None:
        self._session_factory = session_factory
        self.user_id = user_id

    async def log(self, run_id: uuid.UUID) -> list[tuple[int, str]]:
        async with self._session_factory() as session:
            rows = await RunRepository(session).events(run_id)
        return [(row.seq or 0, row.event_name) for row in rows]

    async def status(self, run_id: uuid.UUID) -> str | None:
        async with self._session_factory() as session:
            return (await session.execute(select(Run.status).where(Run.id == run_id))).scalar_one_or_none()

    async def node_statuses(self, run_id: uuid.UUID) -> dict[str, str]:
        async with self._session_factory() as session:
            statement = select(RunNodeResult.node_id, RunNodeResult.status).where(RunNodeResult.run_id == run_id)
            rows = (await session.execute(statement)).all()
        return {node_id: status for node_id, status in rows}

    async def insert_run(self, run: Run) -> None:
        async with self._session_factory() as session:
            await RunRepository(session).insert_runs([run])
            await session.commit()

    async def claim(self, run_id: uuid.UUID) -> int:
        async with self._session_factory() as session:
            run = await RunRepository(session).claim(run_id, worker_id="another worker")
            await session.commit()
        assert run is not None
        return run.attempt


class Engine:
    """A run's engine as the journal sees it: it appends numbered events, and stops when told."""

    def __init__(self, journal: RunJournal, record: RunRecord) -> None:
        self.journal = journal
        self.record = record
        self.run_id = record.run_id
        self.stopped = False
        self.appended: list[RunEvent] = []

    def stop(self) -> None:
        self.stopped = True

    def append(self, *makers: Callable[[str, int], RunEvent]) -> None:
        for make in makers:
            event = make(str(self.run_id), self.record.last_seq + 1)
            self.appended.append(event)
            self.journal.append(self.record, event)

    async def finished(self) -> None:
        await asyncio.wait_for(self.record.finished.wait(), timeout=20)


def started() -> Callable[[str, int], RunEvent]:
    return lambda run_id, seq: run_events.RunStarted(run_id=run_id, seq=seq, at=AT)


def node(node_id: str, status: NodeStatus) -> Callable[[str, int], RunEvent]:
    return lambda run_id, seq: run_events.NodeStatusChanged(run_id=run_id, seq=seq, at=AT, node_id=node_id, status=status)


def delta(text: str, node_id: str = "a") -> Callable[[str, int], RunEvent]:
    return lambda run_id, seq: run_events.NodeOutputDelta(run_id=run_id, seq=seq, at=AT, node_id=node_id, delta=text)


def node_completed(node_id: str = "a") -> Callable[[str, int], RunEvent]:
    return lambda run_id, seq: run_events.NodeCompleted(run_id=run_id, seq=seq, at=AT, node_id=node_id, output={"text": "t"})


def completed() -> Callable[[str, int], RunEvent]:
    return lambda run_id, seq: run_events.RunCompleted(run_id=run_id, seq=seq, at=AT, outputs={"a": {"text": "t"}})


def cancelled() -> Callable[[str, int], RunEvent]:
    return lambda run_id, seq: run_events.RunCancelled(run_id=run_id, seq=seq, at=AT)


def a_whole_run() -> list[Callable[[str, int], RunEvent]]:
    return [started(), node("a", NodeStatus.RUNNING), delta("one "), delta("two"), node_completed(), completed()]


def names(events: list[RunEvent]) -> list[tuple[int, str]]:
    return [(event.seq, event.event_name) for event in events]


class Follower:
    """Reads a run's live tail as follow_run does, checking that each event it receives is
    stored by then."""

    def __init__(self, tail: RunTail, run_id: uuid.UUID, stored: StoredRuns) -> None:
        self._tail = tail
        self._run_id = run_id
        self._stored = stored
        self.seen: list[RunEvent] = []
        self._next_seq = tail.first_seq
        self.unstored_when_seen: list[int] = []
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        while True:
            events = self._tail.since(self._next_seq)
            if events:
                self._next_seq = events[-1].seq + 1
                stored_seqs = {seq for seq, _ in await self._stored.log(self._run_id)}
                self.unstored_when_seen += [event.seq for event in events if event.seq not in stored_seqs]
                self.seen += events
                continue
            if self._tail.closed:
                return
            await self._tail.changed()

    async def until_the_end(self) -> list[RunEvent]:
        await asyncio.wait_for(self._task, timeout=20)
        return self.seen

    async def until_it_has(self, count: int) -> None:
        await wait_until(lambda: len(self.seen) >= count)


async def completes_with_every_event_once(engine: Engine, follower: Follower, stored: StoredRuns) -> None:
    """The follower received every event the engine appended, once, each stored by then, and
    the stored log holds exactly those: the run completed."""
    seen = await follower.until_the_end()
    assert names(seen) == names(engine.appended) == await stored.log(engine.run_id)
    assert follower.unstored_when_seen == []
    assert await stored.status(engine.run_id) == RunStatus.COMPLETED.value


# Starts a run in the journal as RunManager.start does; returns its engine and a follower.
StartRun = Callable[[RunJournal], Awaitable[tuple[Engine, Follower]]]


class JournalContract:
    """The rules every storage keeps with the journal. A subclass provides `storage` (the
    storage under test, wrapped to fail on command) and `stored` (what it holds)."""

    @pytest.fixture
    def storage(self, inner_storage: RunLogStorage) -> FaultyRunLogStorage:
        return FaultyRunLogStorage(inner_storage)

    @pytest.fixture
    def tails(self) -> LiveTails:
        return LiveTails(window=100_000)

    @pytest.fixture
    def announced(self) -> list[DomainEvent]:
        return []

    @pytest.fixture
    async def journals(
        self, storage: FaultyRunLogStorage, tails: LiveTails, announced: list[DomainEvent], stored: StoredRuns
    ) -> AsyncIterator[Callable[..., RunJournal]]:
        async def announce(event: DomainEvent, bus: EventBus) -> None:
            # Announced only once stored: the run's row says how it ended by then.
            assert await stored.status(uuid.UUID(event.payload["runId"])) != RunStatus.RUNNING.value
            announced.append(event)

        handlers = EventHandlers({ALL_EVENTS: [announce]})

        opened: list[RunJournal] = []

        def open_journal(storage_timeout: float = 30.0) -> RunJournal:
            journal = RunJournal(
                storage, EventBus(handlers), tails, metrics=Metrics(), spans=RunSpans(), storage_timeout=storage_timeout
            )
            opened.append(journal)
            return journal

        yield open_journal
        storage.release()
        storage.come_back()
        for journal in opened:
            await journal.close()

    @pytest.fixture
    def journal(self, journals: Callable[..., RunJournal]) -> RunJournal:
        return journals()

    @pytest.fixture
    def start(self, tails: LiveTails, stored: StoredRuns) -> StartRun:
        async def start_run(journal: RunJournal) -> tuple[Engine, Follower]:
            """A run started in this process, as RunManager.start does it, and a follower."""
            run = new_run(stored.user_id)
            engine = open_run(journal, run.id, stored)
            follower = Follower(tails.get(run.id) or RunTail(), run.id, stored)
            await journal.create(engine.record, run)
            return engine, follower

        return start_run

    # --- the log -----------------------------------------------------------------------------

    async def test_the_stored_log_is_every_appended_event_once_numbered_from_one_without_a_gap(
        self, journal: RunJournal, start: StartRun, stored: StoredRuns
    ) -> None:
        runs = [await start(journal) for _ in range(3)]
        for makers in zip(*(a_whole_run() for _ in runs), strict=True):
            for (engine, _), make in zip(runs, makers, strict=True):
                engine.append(make)
        for engine, _ in runs:
            await engine.finished()

        for engine, _ in runs:
            assert await stored.log(engine.run_id) == names(engine.appended)
            assert [seq for seq, _ in await stored.log(engine.run_id)] == list(range(1, 7))
            assert await stored.status(engine.run_id) == RunStatus.COMPLETED.value

    async def test_the_log_closes_at_its_first_terminal_event(
        self, journal: RunJournal, start: StartRun, stored: StoredRuns
    ) -> None:
        engine, follower = await start(journal)
        engine.append(*a_whole_run(), cancelled())
        await engine.finished()

        assert await stored.log(engine.run_id) == names(engine.appended[:-1])
        assert names(await follower.until_the_end()) == names(engine.appended[:-1])

    async def test_a_run_appending_thousands_shares_every_batch_with_the_others(
        self, journal: RunJournal, start: StartRun, storage: FaultyRunLogStorage, stored: StoredRuns
    ) -> None:
        huge, _ = await start(journal)
        small, _ = await start(journal)
        huge.append(started(), *(delta(str(i)) for i in range(2_500)), completed())
        small.append(*a_whole_run())
        await huge.finished()
        await small.finished()

        batches = [commit.events for commit in storage.commits if commit.events]
        assert all(sum(row["run_id"] == huge.run_id for row in batch) <= RUN_BATCH_LIMIT for batch in batches)
        assert [row["seq"] for row in batches[0] if row["run_id"] == small.run_id] == list(range(1, 7))
        assert len(await stored.log(huge.run_id)) == 2_502

    async def test_node_results_of_an_ended_run_are_terminal(
        self, journal: RunJournal, start: StartRun, stored: StoredRuns
    ) -> None:
        engine, _ = await start(journal)
        engine.append(started(), node("a", NodeStatus.RUNNING), node_completed("a"), node("b", NodeStatus.RUNNING))
        engine.append(node("c", NodeStatus.PENDING), cancelled())
        await engine.finished()

        assert await stored.node_statuses(engine.run_id) == {"a": "completed", "b": "cancelled", "c": "cancelled"}

    async def test_closing_the_journal_writes_what_is_buffered(
        self, journal: RunJournal, start: StartRun, stored: StoredRuns
    ) -> None:
        engine, _ = await start(journal)
        engine.append(*a_whole_run())
        await journal.close()

        assert await stored.log(engine.run_id) == names(engine.appended)

    # --- followers -----------------------------------------------------------------------------

    async def test_followers_only_see_what_is_stored(
        self, journal: RunJournal, start: StartRun, storage: FaultyRunLogStorage, stored: StoredRuns, tails: LiveTails
    ) -> None:
        engine, follower = await start(journal)
        storage.hold()
        engine.append(started(), node("a", NodeStatus.RUNNING))
        await storage.until_a_commit_is_held()
        engine.append(*a_whole_run()[2:])

        assert (tails.get(engine.run_id) or RunTail()).since(1) == []
        storage.release()
        seen = await follower.until_the_end()
        assert names(seen) == names(engine.appended) == await stored.log(engine.run_id)
        assert follower.unstored_when_seen == []

    async def test_an_ended_runs_announcement_is_published_once_stored(
        self, journal: RunJournal, start: StartRun, announced: list[DomainEvent]
    ) -> None:
        engine, _ = await start(journal)
        engine.append(*a_whole_run())
        await engine.finished()

        assert [(event.name, event.payload["runId"]) for event in announced] == [("run.completed", str(engine.run_id))]

    async def test_an_engine_waits_for_room_while_its_unwritten_events_pile_up(
        self, journal: RunJournal, start: StartRun, storage: FaultyRunLogStorage, stored: StoredRuns
    ) -> None:
        engine, _ = await start(journal)
        await journal.wait_for_room(engine.record)  # nothing unwritten: at once
        storage.hold()
        engine.append(started())
        await storage.until_a_commit_is_held()
        engine.append(*(delta(str(i)) for i in range(MAX_UNWRITTEN_EVENTS + 1)))
        waiting = asyncio.create_task(journal.wait_for_room(engine.record))
        await wait_until(lambda: len(engine.record.unwritten) > MAX_UNWRITTEN_EVENTS and not waiting.done())

        storage.release()
        await asyncio.wait_for(waiting, timeout=20)
        assert len(engine.record.unwritten) <= MAX_UNWRITTEN_EVENTS
        engine.append(completed())
        await engine.finished()
        assert len(await stored.log(engine.run_id)) == MAX_UNWRITTEN_EVENTS + 3

    # --- faults ----------------------------------------------------------------------------------

    async def test_a_write_that_fails_for_a_passing_reason_is_retried_and_loses_nothing(
        self, journal: RunJournal, start: StartRun, storage: FaultyRunLogStorage, stored: StoredRuns
    ) -> None:
        engine, follower = await start(journal)
        storage.fail_next(Fault.CONNECTION_LOST, Fault.CONNECTION_LOST)
        engine.append(*a_whole_run())

        await completes_with_every_event_once(engine, follower, stored)

    async def test_a_commit_whose_acknowledgement_was_lost_is_not_written_twice(
        self, journal: RunJournal, start: StartRun, storage: FaultyRunLogStorage, stored: StoredRuns
    ) -> None:
        engine, follower = await start(journal)
        engine.append(started(), node("a", NodeStatus.RUNNING))
        await follower.until_it_has(2)
        storage.fail_next(Fault.ACKNOWLEDGEMENT_LOST)
        engine.append(delta("one "), delta("two"))
        await wait_until(lambda: len(follower.seen) == 4)
        engine.append(node_completed(), completed())

        await completes_with_every_event_once(engine, follower, stored)

    async def test_the_end_in_a_commit_whose_acknowledgement_was_lost_is_not_written_twice(
        self, journal: RunJournal, start: StartRun, storage: FaultyRunLogStorage, stored: StoredRuns
    ) -> None:
        engine, follower = await start(journal)
        storage.fail_next(Fault.ACKNOWLEDGEMENT_LOST)
        engine.append(*a_whole_run())

        await completes_with_every_event_once(engine, follower, stored)

    async def test_a_new_run_whose_acknowledgement_was_lost_is_stored_once_and_starts(
        self, journal: RunJournal, start: StartRun, storage: FaultyRunLogStorage, stored: StoredRuns
    ) -> None:
        storage.fail_next(Fault.ACKNOWLEDGEMENT_LOST)
        engine, follower = await start(journal)
        engine.append(*a_whole_run())

        await completes_with_every_event_once(engine, follower, stored)

    async def test_a_new_run_is_refused_after_one_retry_while_the_database_is_down(
        self, journal: RunJournal, start: StartRun, storage: FaultyRunLogStorage, stored: StoredRuns
    ) -> None:
        storage.go_down()
        with pytest.raises(StorageUnreachable):
            await start(journal)
        storage.come_back()

        engine, _ = await start(journal)
        engine.append(*a_whole_run())
        await engine.finished()
        assert await stored.status(engine.run_id) == RunStatus.COMPLETED.value

    async def test_data_refused_for_good_fails_only_its_own_run(
        self, journal: RunJournal, start: StartRun, storage: FaultyRunLogStorage, stored: StoredRuns
    ) -> None:
        refused, refused_follower = await start(journal)
        others = [await start(journal) for _ in range(2)]
        refused.append(started())
        await refused_follower.until_it_has(1)
        storage.refuse_text(REFUSED)
        refused.append(node("a", NodeStatus.RUNNING), delta(REFUSED), node_completed(), completed())
        for engine, _ in others:
            engine.append(*a_whole_run())

        seen = await refused_follower.until_the_end()
        assert refused.stopped
        assert [(seq, name) for seq, name in await stored.log(refused.run_id)] == [(1, "RunStarted"), (2, "RunFailed")]
        assert names(seen) == await stored.log(refused.run_id)
        assert await stored.status(refused.run_id) == RunStatus.FAILED.value
        assert not set((await stored.node_statuses(refused.run_id)).values()) & {"pending", "running"}
        for engine, follower in others:
            assert names(await follower.until_the_end()) == names(engine.appended) == await stored.log(engine.run_id)
            assert not engine.stopped

    async def test_a_run_refused_while_queued_for_the_next_batch_is_not_taken_as_an_empty_part(
        self, journal: RunJournal, start: StartRun, storage: FaultyRunLogStorage, stored: StoredRuns
    ) -> None:
        refused, refused_follower = await start(journal)
        other, other_follower = await start(journal)
        storage.refuse_text(REFUSED)
        storage.hold()
        refused.append(started(), delta(REFUSED))
        other.append(started())
        await storage.until_a_commit_is_held()
        refused.append(delta("queued for the next batch"), completed())
        other.append(*a_whole_run()[1:])
        storage.release()

        assert names(await refused_follower.until_the_end()) == [(1, "RunFailed")] == await stored.log(refused.run_id)
        assert names(await other_follower.until_the_end()) == names(other.appended) == await stored.log(other.run_id)

    @pytest.fixture
    async def given_up(
        self, journals: Callable[..., RunJournal], start: StartRun, storage: FaultyRunLogStorage
    ) -> tuple[Engine, list[RunEvent]]:
        """A run that stored two events, then met the database down for longer than the storage
        timeout; and what its follower received."""
        engine, follower = await start(journals(storage_timeout=0.2))
        engine.append(started(), node("a", NodeStatus.RUNNING))
        await follower.until_it_has(2)
        storage.go_down()
        engine.append(delta("lost"), delta("lost too"))
        return engine, await follower.until_the_end()

    async def test_a_database_down_past_the_storage_timeout_ends_the_run_after_its_last_stored_event(
        self, given_up: tuple[Engine, list[RunEvent]], stored: StoredRuns
    ) -> None:
        engine, seen = given_up

        assert engine.stopped
        assert names(seen) == [(1, "RunStarted"), (2, "NodeStatusChanged"), (3, "RunFailed")]
        assert isinstance(seen[-1], run_events.RunFailed) and "database" in seen[-1].error
        assert await stored.log(engine.run_id) == names(seen[:2])

    async def test_the_end_of_a_run_given_up_is_stored_once_the_database_is_back(
        self, given_up: tuple[Engine, list[RunEvent]], storage: FaultyRunLogStorage, stored: StoredRuns
    ) -> None:
        engine, seen = given_up
        storage.come_back()

        async def its_end_is_stored() -> bool:
            return len(await stored.log(engine.run_id)) == 3

        await wait_until(its_end_is_stored)
        assert await stored.log(engine.run_id) == names(seen)
        assert await stored.status(engine.run_id) == RunStatus.FAILED.value
        assert await stored.node_statuses(engine.run_id) == {"a": "cancelled"}

    async def test_a_write_by_an_attempt_that_was_taken_over_is_refused_and_publishes_nothing(
        self, journal: RunJournal, storage: FaultyRunLogStorage, stored: StoredRuns, tails: LiveTails
    ) -> None:
        run = new_run(stored.user_id)
        await stored.insert_run(run)
        attempt = await stored.claim(run.id)
        engine = open_run(journal, run.id, stored, attempt=attempt)
        tail = tails.get(run.id) or RunTail()
        follower = Follower(tail, run.id, stored)
        engine.append(started(), node("a", NodeStatus.RUNNING))
        await follower.until_it_has(2)
        await stored.claim(run.id)
        engine.append(delta("after the takeover"), completed())

        seen = await follower.until_the_end()
        assert engine.stopped and tail.handed_over
        assert names(seen) == names(engine.appended[:2]) == await stored.log(run.id)
        assert await stored.status(run.id) == RunStatus.RUNNING.value


def new_run(user_id: int) -> Run:
    return Run(
        id=uuid.uuid4(),
        user_id=user_id,
        flow_id=None,
        status=RunStatus.RUNNING.value,
        provider_id=None,
        trigger_node_id=None,
        graph_data={},
        outputs=None,
        error=None,
        created_at=AT,
        started_at=AT,
        finished_at=None,
        worker_id=None,
        cancel_requested=False,
        attempt=0,
    )


def open_run(journal: RunJournal, run_id: uuid.UUID, stored: StoredRuns, *, attempt: int | None = None) -> Engine:
    engine: Engine | None = None

    def stop() -> None:
        assert engine is not None
        engine.stop()

    record = journal.open(
        run_id,
        RunOwner(user_id=stored.user_id, project_id=None, session_id=None),
        flow_id=None,
        node_types={"a": "initialPrompt", "b": "textOutput", "c": "textOutput"},
        on_abandon=stop,
        attempt=attempt,
    )
    engine = Engine(journal, record)
    return engine


class TestInMemory(JournalContract):
    @pytest.fixture
    def memory(self) -> InMemoryRunLogStorage:
        return InMemoryRunLogStorage()

    @pytest.fixture
    def inner_storage(self, memory: InMemoryRunLogStorage) -> RunLogStorage:
        return memory

    @pytest.fixture
    def stored(self, memory: InMemoryRunLogStorage) -> StoredRuns:
        return InMemoryRuns(memory)

    def test_it_refuses_an_event_stored_twice(self, memory: InMemoryRunLogStorage) -> None:
        """The fake refuses what the database's keys refuse, or it could not catch a double write."""
        run = new_run(1)
        row = {"run_id": run.id, "seq": 1, "event_name": "RunStarted", "payload": {}}
        memory.store(GroupCommit(new_runs=[run], events=[row], node_results=[], ended=[]))
        with pytest.raises(DataRefused):
            memory.store(GroupCommit(new_runs=[], events=[row], node_results=[], ended=[]))


class TestDatabase(JournalContract):
    """SQLite, and PostgreSQL when TEST_DATABASE_URL is set (tests/conftest.py)."""

    @pytest.fixture
    async def user_id(self, session_factory: async_sessionmaker[AsyncSession]) -> int:
        async with session_factory() as session:
            user = User(email="journal@example.com", username="journal", password_hash="x")
            session.add(user)
            await session.commit()
            return user.id

    @pytest.fixture
    def inner_storage(self, session_factory: async_sessionmaker[AsyncSession]) -> RunLogStorage:
        return SqlRunLogStorage(session_factory)

    @pytest.fixture
    def stored(self, session_factory: async_sessionmaker[AsyncSession], user_id: int) -> StoredRuns:
        return DatabaseRuns(session_factory, user_id)
