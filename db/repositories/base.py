"""What every repository shares: a session, and offset pages with a total count."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from sqlalchemy import Select, func
from sqlalchemy.ext.asyncio import AsyncSession

Row = TypeVar("Row")


@dataclass(frozen=True)
class PageRows(Generic[Row]):
    rows: Sequence[Row]
    total_count: int
    offset: int


class Repository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def fetch_page(
        self, statement: Select[Row], *, offset: int, limit: int
    ) -> PageRows[Row]:
        count_statement = statement.with_only_columns(
            func.count(), maintain_column_froms=True
        ).order_by(None)
        total = (await self.session.execute(count_statement)).scalar_one()
        rows = (await self.session.scalars(statement.offset(offset).limit(limit))).all()
        return PageRows(rows=rows, total_count=total, offset=offset)
