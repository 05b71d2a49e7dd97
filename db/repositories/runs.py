"""Runs, their node results and their stored events."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select

from db.models import EventLog, Run, RunNodeResult, RunStatus
from db.repositories.base import PageRows, Repository



class RunRepository(Repository):
    async def add(self, run: Run) -> Run:
        self.session.add(run)
        await self.session.flush()
        return run

    async def get(self, run_id: uuid.UUID, *, owner_id: int | None) -> Run | None:
        run = await self.session.get(Run, run_id)
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

    async def unfinished(self) -> Sequence[Run]:
        statement = select(Run).where(Run.status == RunStatus.RUNNING.value)
        return (await self.session.scalars(statement)).all()

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

    async def events(self, run_id: uuid.UUID, *, after_seq: int = 0) -> Sequence[EventLog]:
        statement = (
            select(EventLog)
            .where(EventLog.run_id == run_id, EventLog.seq > after_seq)
            .order_by(EventLog.seq)
        )
        return (await self.session.scalars(statement)).all()

    async def last_seq(self, run_id: uuid.UUID) -> int:
        statement = select(func.max(EventLog.seq)).where(EventLog.run_id == run_id)
        return (await self.session.execute(statement)).scalar() or 0
