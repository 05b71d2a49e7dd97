"""Runs, their node results and their stored events."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, insert, or_, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from db.base import table_of
from db.models import EventLog, Flow, Run, RunNodeResult, RunStatus
from db.repositories.base import ModelRepository, PageRows

COMPLETED_NODE_STATUSES = ("completed", "cached")

# What a later write of a node's result replaces (the row's id and keys stay).
_NODE_RESULT_STATE = ("status", "output", "error", "cache_key", "started_at", "finished_at", "duration_ms")
UNFINISHED_NODE_STATUSES = ("pending", "running")

# The run log's bulk statements go to the tables themselves (SQLAlchemy Core): the ORM's bulk
# paths cost more per row than the database did (measured in benchmarks.event_cost).
_RUNS = table_of(Run)
_NODE_RESULTS = table_of(RunNodeResult)
_EVENTS = table_of(EventLog)


@dataclass(frozen=True)
class RunOutcome:
    """How a run ended, as its row stores it."""

    run_id: uuid.UUID
    status: RunStatus
    finished_at: datetime
    outputs: dict[str, Any] | None = None
    error: str | None = None


class RunRepository(ModelRepository[Run]):
    def __init__(self, session: AsyncSession) -> None:
        super().__init__(session, Run)

    async def get(self, run_id: uuid.UUID, *, owner_id: int | None) -> Run | None:
        run = await self.get_by_id(run_id)
        if run is None or (owner_id is not None and run.user_id != owner_id):
            return None
        return run

    async def page(
        self, *, owner_id: int | None, flow_id: uuid.UUID | None, offset: int, limit: int
    ) -> PageRows[Run]:
        """Newest first: the run a user just started leads the list."""
        statement = select(Run).order_by(Run.created_at.desc(), Run.id.desc())
        if owner_id is not None:
            statement = statement.where(Run.user_id == owner_id)
        if flow_id is not None:
            statement = statement.where(Run.flow_id == flow_id)
        return await self.fetch_page(statement, offset=offset, limit=limit)

    async def unfinished(self, *, run_ids: Sequence[uuid.UUID] | None = None) -> Sequence[Run]:
        """Running runs: all of them, or those of `run_ids`."""
        statement = select(Run).where(Run.status == RunStatus.RUNNING.value)
        if run_ids is not None:
            statement = statement.where(Run.id.in_(run_ids))
        return (await self.session.scalars(statement)).all()

    async def project_of(self, run: Run) -> int | None:
        if run.flow_id is None:
            return None
        return (await self.session.execute(select(Flow.project_id).where(Flow.id == run.flow_id))).scalar_one_or_none()

    async def request_cancel(self, run_id: uuid.UUID) -> None:
        await self.session.execute(update(Run).where(Run.id == run_id).values(cancel_requested=True))

    async def cancel_requested(self, worker_id: str) -> Sequence[uuid.UUID]:
        """This process's running runs that someone asked to cancel."""
        statement = select(Run.id).where(
            Run.worker_id == worker_id, Run.status == RunStatus.RUNNING.value, Run.cancel_requested.is_(True)
        )
        return (await self.session.scalars(statement)).all()

    async def claim(self, run_id: uuid.UUID, worker_id: str | None) -> Run | None:
        """A worker takes the run on (distributed mode): its attempt number goes up by one, which
        fences off every earlier attempt's writes. None when the run has ended meanwhile."""
        if self.session.get_bind().dialect.name == "postgresql":
            # A frozen worker may hold the row's share lock in an open transaction: the claim
            # fails (and its job is retried) rather than waiting for it for good.
            await self.session.execute(text("SET LOCAL lock_timeout = '5s'"))
        statement = (
            update(Run)
            .where(Run.id == run_id, Run.status == RunStatus.RUNNING.value)
            .values(attempt=Run.attempt + 1, worker_id=worker_id)
            .returning(Run)
        )
        return (await self.session.scalars(statement, execution_options={"populate_existing": True})).one_or_none()

    async def end_unclaimed(
        self, run_id: uuid.UUID, *, status: RunStatus, at: datetime, error: str | None = None
    ) -> Run | None:
        """Ends a queued run that no worker has claimed yet; None when one has (or it ended)."""
        statement = (
            update(Run)
            .where(Run.id == run_id, Run.status == RunStatus.RUNNING.value, Run.attempt == 0)
            .values(status=status.value, finished_at=at, error=error, attempt=Run.attempt + 1)
            .returning(Run)
        )
        return (await self.session.scalars(statement, execution_options={"populate_existing": True})).one_or_none()

    async def writable(self, attempts: Mapping[uuid.UUID, int]) -> set[uuid.UUID]:
        """Of these runs (id -> the attempt about to write), those still running under that
        attempt. Their rows stay share-locked until the transaction ends, so a claim that would
        fence the attempt off waits for this write rather than overtaking it."""
        statement = (
            select(Run.id, Run.attempt)
            .where(Run.id.in_(list(attempts)), Run.status == RunStatus.RUNNING.value)
            .with_for_update(read=True)
        )
        rows = (await self.session.execute(statement)).all()
        return {run_id for run_id, attempt in rows if attempts[run_id] == attempt}

    async def completed_outputs(self, run_id: uuid.UUID) -> dict[str, Any]:
        """Node id -> output of the run's nodes that completed (or were cached)."""
        statement = select(RunNodeResult.node_id, RunNodeResult.output).where(
            RunNodeResult.run_id == run_id, RunNodeResult.status.in_(COMPLETED_NODE_STATUSES)
        )
        return {node_id: output for node_id, output in (await self.session.execute(statement)).all()}

    async def running_count(self, user_id: int) -> int:
        statement = select(func.count()).where(Run.user_id == user_id, Run.status == RunStatus.RUNNING.value)
        return (await self.session.execute(statement)).scalar_one()

    async def node_results_for(self, run_ids: Sequence[uuid.UUID]) -> Sequence[RunNodeResult]:
        statement = (
            select(RunNodeResult)
            .where(RunNodeResult.run_id.in_(run_ids))
            .order_by(RunNodeResult.started_at, RunNodeResult.node_id)
        )
        return (await self.session.scalars(statement)).all()

    async def stored_output(self, *, cache_key: str, owner_id: int) -> dict[str, Any] | None:
        """The latest completed output of an identical node in one of the owner's runs."""
        statement = (
            select(RunNodeResult.output)
            .join(Run, Run.id == RunNodeResult.run_id)
            .where(
                RunNodeResult.cache_key == cache_key,
                RunNodeResult.status == "completed",
                Run.user_id == owner_id,
            )
            .order_by(RunNodeResult.finished_at.desc())
            .limit(1)
        )
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def events(
        self, run_id: uuid.UUID, *, after_seq: int = 0, limit: int | None = None
    ) -> Sequence[EventLog]:
        statement = (
            select(EventLog)
            .where(EventLog.run_id == run_id, EventLog.seq > after_seq)
            .order_by(EventLog.seq)
            .limit(limit)
        )
        return (await self.session.scalars(statement)).all()

    async def last_seq(self, run_id: uuid.UUID) -> int:
        return (await self.last_seqs([run_id])).get(run_id, 0)

    async def last_seqs(self, run_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
        """The highest stored seq of each run that has events."""
        statement = (
            select(EventLog.run_id, func.max(EventLog.seq))
            .where(EventLog.run_id.in_(run_ids))
            .group_by(EventLog.run_id)
        )
        rows = (await self.session.execute(statement)).all()
        return {row[0]: row[1] for row in rows if row[0] is not None and row[1] is not None}

    # --- recording a run: bulk statements, one per kind of row and batch ----------------------

    async def insert_runs(self, runs: Sequence[Run]) -> None:
        """Stores new runs, every column as the objects say (defaults are not applied), in one
        executemany (SQLAlchemy Core: the ORM's flush cost more than the insert); the objects
        stay out of the session."""
        if runs:
            rows = [{column.key: getattr(run, column.key) for column in _RUNS.columns} for run in runs]
            await self.session.execute(insert(_RUNS), rows)

    async def existing(self, run_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
        """Those of these runs that are stored."""
        return set((await self.session.scalars(select(Run.id).where(Run.id.in_(run_ids)))).all())

    async def append_events(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Event rows (EventLog columns), in one executemany."""
        if rows:
            await self.session.execute(insert(_EVENTS), list(rows))

    async def save_node_results(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Inserts or replaces node results by (run_id, node_id); one row per node at most."""
        if not rows:
            return
        statement = _node_result_upsert(self.session.get_bind().dialect.name)
        await self.session.execute(statement, list(rows))

    async def finish(self, outcomes: Sequence[RunOutcome]) -> None:
        """Ends the runs, in one executemany."""
        if not outcomes:
            return
        await self.session.execute(
            _finish_statement(),
            [
                {
                    "run_id_": outcome.run_id,
                    "status": outcome.status.value,
                    "finished_at": outcome.finished_at,
                    "outputs": outcome.outputs,
                    "error": outcome.error,
                }
                for outcome in outcomes
            ],
        )

    async def close_unfinished_node_results(self, outcomes: Sequence[RunOutcome]) -> None:
        """Node results the ended runs left pending or running end as cancelled, when their run
        ended: a finished run has none open."""
        if outcomes:
            rows = [{"run_id_": outcome.run_id, "at_": outcome.finished_at} for outcome in outcomes]
            await self.session.execute(_close_statement(), rows)


@functools.cache
def _finish_statement() -> Any:
    # The SET clause comes from each row's keys: status, finished_at, outputs, error.
    return update(_RUNS).where(_RUNS.c.id == bindparam("run_id_"))


@functools.cache
def _close_statement() -> Any:
    unfinished = or_(*(_NODE_RESULTS.c.status == status for status in UNFINISHED_NODE_STATUSES))
    return (
        update(_NODE_RESULTS)
        .where(_NODE_RESULTS.c.run_id == bindparam("run_id_"), unfinished)
        .values(status="cancelled", finished_at=bindparam("at_"))
    )


@functools.cache
def _node_result_upsert(dialect: str) -> Any:
    """Built once per dialect: building it cost more than running it, batch after batch."""
    statement = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(_NODE_RESULTS)
    return statement.on_conflict_do_update(
        index_elements=[_NODE_RESULTS.c.run_id, _NODE_RESULTS.c.node_id],
        set_={name: statement.excluded[name] for name in _NODE_RESULT_STATE},
    )
