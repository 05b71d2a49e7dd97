"""Projects, flows and characters. `owner_id=None` means every owner (a backoffice reader)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, delete, select
from sqlalchemy.orm import InstrumentedAttribute, defer

from db.models import ConsistentCharacter, Flow, Project
from db.repositories.base import ModelRepository, PageRows

Owned = TypeVar("Owned", Project, Flow, ConsistentCharacter)
OwnedId = int | uuid.UUID

# What ties a flow or a character to its project (projects themselves have no project).
PROJECT_COLUMNS: dict[type, InstrumentedAttribute[int | None]] = {
    Flow: Flow.project_id,
    ConsistentCharacter: ConsistentCharacter.project_id,
}

# Lists leave out these big JSON documents (a flow's graph can hold thousands of nodes); a
# DataLoader fetches one when a client asks for it.
LEFT_OUT_OF_LISTS: dict[type, str] = {Flow: "graph_data"}


class OwnedRepository(ModelRepository[Owned], Generic[Owned]):
    async def get(self, object_id: OwnedId, *, owner_id: int | None) -> Owned | None:
        row = await self.get_by_id(object_id)
        if row is None or (owner_id is not None and row.user_id != owner_id):
            return None
        return row

    async def page(
        self, *, owner_id: int | None, project_id: int | None = None, offset: int, limit: int
    ) -> PageRows[Owned]:
        statement = select(self.model).order_by(self.model.created_at, self.model.id)
        if owner_id is not None:
            statement = statement.where(self.model.user_id == owner_id)
        if project_id is not None:
            statement = statement.where(self._project_column() == project_id)
        return await self.fetch_page(self._listing(statement), offset=offset, limit=limit)

    async def list_for_projects(self, project_ids: Sequence[int]) -> Sequence[Owned]:
        statement = (
            select(self.model)
            .where(self._project_column().in_(project_ids))
            .order_by(self.model.created_at, self.model.id)
        )
        return (await self.session.scalars(self._listing(statement))).all()

    async def delete(self, row: Owned) -> None:
        # Pending rows (an event that names this object) must reach the database first, so
        # that the database's ON DELETE rules see them.
        await self.session.flush()
        # The database cascades to what the row owns (ON DELETE CASCADE on every child).
        await self.session.execute(delete(self.model).where(self.model.id == row.id))

    async def graph_data_of(self, flow_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, dict[str, Any]]:
        statement = select(Flow.id, Flow.graph_data).where(Flow.id.in_(flow_ids))
        return {row.id: row.graph_data for row in await self.session.execute(statement)}

    def _listing(self, statement: Select[Owned]) -> Select[Owned]:
        left_out = LEFT_OUT_OF_LISTS.get(self.model)
        if left_out is None:
            return statement
        return statement.options(defer(getattr(self.model, left_out), raiseload=True))

    def _project_column(self) -> InstrumentedAttribute[int | None]:
        column = PROJECT_COLUMNS.get(self.model)
        if column is None:
            raise TypeError("projects are not filtered by project")
        return column
