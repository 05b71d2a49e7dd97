from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.base import table_of
from db.models import EventLog
from db.repositories.base import ModelRepository, PageRows


class EventLogRepository(ModelRepository[EventLog]):
    def __init__(self, session: AsyncSession) -> None:
        super().__init__(session, EventLog)

    def add_pending(self, row: EventLog) -> None:
        """Written with the transaction's other changes, at its flush or commit."""
        self.session.add(row)

    async def insert_many(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Rows of EventLog columns, in one executemany (SQLAlchemy Core: no ORM objects)."""
        if rows:
            await self.session.execute(insert(table_of(EventLog)), list(rows))

    async def page(self, *, user_id: int | None, offset: int, limit: int) -> PageRows[EventLog]:
        """Domain events, newest first (a run's own events are read with the run)."""
        statement = (
            select(EventLog)
            .where(EventLog.run_id.is_(None))
            .order_by(EventLog.created_at.desc(), EventLog.id.desc())
        )
        if user_id is not None:
            statement = statement.where(EventLog.user_id == user_id)
        return await self.fetch_page(statement, offset=offset, limit=limit)
