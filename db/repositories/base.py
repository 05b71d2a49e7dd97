"""What every repository shares: a session, and offset pages with a total count."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from sqlalchemy import Select, func
from sqlalchemy.ext.asyncio import AsyncSession

Row = TypeVar("Row")


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

    async def _count(self, statement: Select[Row]) -> int:
        count_statement = statement.with_only_columns(func.count(), maintain_column_froms=True).order_by(None)
        return (await self.session.execute(count_statement)).scalar_one()
