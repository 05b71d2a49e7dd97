"""What every repository shares: a session, and offset pages with a total count."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Row as SQLRow
from sqlalchemy import Select, func, inspect, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.base import Base

Row = TypeVar("Row")
Model = TypeVar("Model", bound=Base)


@dataclass(frozen=True)
class PageRows(Generic[Row]):
    rows: Sequence[Row]
    offset: int
    has_more: bool
    # The total, counted only when asked for: most pages never show it.
    count: Callable[[], Awaitable[int]]


class Repository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def fetch_page(
        self, statement: Select[Row], *, offset: int, limit: int
    ) -> PageRows[Row]:
        # One row more than the page tells whether another page follows, without a count.
        rows = (await self.session.scalars(statement.offset(offset).limit(limit + 1))).all()
        return PageRows(
            rows=rows[:limit], offset=offset, has_more=len(rows) > limit, count=lambda: self._count(statement)
        )

    async def fetch_rows_page(self, statement: Select[Any], *, offset: int, limit: int) -> PageRows[SQLRow[Any]]:
        """fetch_page for a statement of columns: its rows as they are."""
        rows = (await self.session.execute(statement.offset(offset).limit(limit + 1))).all()
        return PageRows(
            rows=rows[:limit], offset=offset, has_more=len(rows) > limit, count=lambda: self._count(statement)
        )

    async def _count(self, statement: Select[Any]) -> int:
        count_statement = statement.with_only_columns(func.count(), maintain_column_froms=True).order_by(None)
        return (await self.session.execute(count_statement)).scalar_one()


class ModelRepository(Repository, Generic[Model]):
    """Add, get and get-many by primary key, for one model; the repositories of each kind of
    row build on it."""

    def __init__(self, session: AsyncSession, model: type[Model]) -> None:
        super().__init__(session)
        self.model: type[Model] = model

    async def add(self, row: Model) -> Model:
        self.session.add(row)
        await self.session.flush()
        return row

    async def get_by_id(self, row_id: Hashable) -> Model | None:
        return await self.session.get(self.model, row_id)

    async def get_many(self, row_ids: Sequence[Hashable]) -> Sequence[Model]:
        primary_key = inspect(self.model).primary_key[0]
        return (await self.session.scalars(select(self.model).where(primary_key.in_(row_ids)))).all()
