"""Projects, flows and characters. `owner_id=None` means every owner (a backoffice reader)."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Generic, NamedTuple, Protocol, TypeVar

from sqlalchemy import Row, Select, bindparam, delete, select
from sqlalchemy.orm import InstrumentedAttribute

from db.models import Character, Flow, Project
from db.repositories.base import ModelRepository, PageRows

Owned = TypeVar("Owned", Project, Flow, Character)
OwnedId = int | uuid.UUID

# What ties a flow or a character to its project (projects themselves have no project).
PROJECT_COLUMNS: dict[type, InstrumentedAttribute[int | None]] = {
    Flow: Flow.project_id,
    Character: Character.project_id,
}

# Lists leave out these big JSON documents (a flow's graph can hold thousands of nodes); a
# DataLoader fetches one when a client asks for it.
LEFT_OUT_OF_LISTS: dict[type, str] = {Flow: "graph_data"}




class ProjectListing(Protocol):
    """What a list of projects gives of each (a row, or the model itself)."""

    @property
    def id(self) -> int: ...
    @property
    def user_id(self) -> int: ...
    @property
    def name(self) -> str: ...
    @property
    def description(self) -> str: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def updated_at(self) -> datetime: ...


class FlowListing(Protocol):
    """What a list of flows gives of each: everything but the graph (LEFT_OUT_OF_LISTS)."""

    @property
    def id(self) -> uuid.UUID: ...
    @property
    def user_id(self) -> int: ...
    @property
    def project_id(self) -> int: ...
    @property
    def name(self) -> str: ...
    @property
    def provider_id(self) -> str | None: ...
    @property
    def version(self) -> int: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def updated_at(self) -> datetime: ...


class CharacterListing(Protocol):
    @property
    def id(self) -> uuid.UUID: ...
    @property
    def user_id(self) -> int: ...
    @property
    def project_id(self) -> int | None: ...
    @property
    def name(self) -> str: ...
    @property
    def description(self) -> str: ...
    @property
    def appearance(self) -> str: ...
    @property
    def personality(self) -> str: ...
    @property
    def outfit(self) -> str: ...
    @property
    def extra(self) -> dict[str, Any]: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def updated_at(self) -> datetime: ...


class ListedFlow(NamedTuple):
    """A flow read with its project (OwnedRepository.page_with_flows): a FlowListing."""

    id: uuid.UUID
    user_id: int
    project_id: int
    name: str
    provider_id: str | None
    version: int
    created_at: datetime
    updated_at: datetime


@functools.cache
def listed_columns(model: type[Project | Flow | Character]) -> tuple[InstrumentedAttribute[Any], ...]:
    """The columns a list reads of each row, named as the model names them."""
    left_out = LEFT_OUT_OF_LISTS.get(model)
    return tuple(
        getattr(model, attribute.key) for attribute in model.__mapper__.column_attrs if attribute.key != left_out
    )


@functools.cache
def _projects_with_flows(*, owned: bool) -> tuple[Select[Any], Select[Any]]:
    """The projects (of the owner :owner_id when `owned`) in list order, and a page of them
    (:offset, :limit) joined to their flows. Built once: building a statement with a subquery
    costs more than running it."""
    projects = select(*listed_columns(Project)).order_by(Project.created_at, Project.id)
    if owned:
        projects = projects.where(Project.user_id == bindparam("owner_id"))
    page = projects.offset(bindparam("offset")).limit(bindparam("limit")).subquery("page")
    flow_columns = [getattr(Flow, name) for name in ListedFlow._fields]
    statement = (
        select(*page.c, *(column.label(f"flow_{column.key}") for column in flow_columns))
        .select_from(page.outerjoin(Flow, Flow.project_id == page.c.id))
        .order_by(page.c.created_at, page.c.id, Flow.created_at, Flow.id)
    )
    return projects, statement


class OwnedRepository(ModelRepository[Owned], Generic[Owned]):
    """Lists read rows (SQLAlchemy Core), not model objects: for lists the ORM's identity map and
    instance state cost about as much again as the rows themselves, and lists are read-only.
    A row has the model's attribute names (see the *Listing protocols)."""

    async def get(self, object_id: OwnedId, *, owner_id: int | None) -> Owned | None:
        row = await self.get_by_id(object_id)
        if row is None or (owner_id is not None and row.user_id != owner_id):
            return None
        return row

    async def page(
        self, *, owner_id: int | None, project_id: int | None = None, offset: int, limit: int
    ) -> PageRows[Row[Any]]:
        statement = select(*listed_columns(self.model)).order_by(self.model.created_at, self.model.id)
        if owner_id is not None:
            statement = statement.where(self.model.user_id == owner_id)
        if project_id is not None:
            statement = statement.where(self._project_column() == project_id)
        return await self.fetch_rows_page(statement, offset=offset, limit=limit)

    async def page_with_flows(
        self, *, owner_id: int | None, offset: int, limit: int
    ) -> tuple[PageRows[Row[Any]], dict[int, list[ListedFlow]]]:
        """A page of projects and all their flows, in one statement: the page (as `page` reads
        it) joined to the flows. The flows, by project id, in creation order (FlowListing)."""
        projects, statement = _projects_with_flows(owned=owner_id is not None)
        parameters = {"offset": offset, "limit": limit + 1, "owner_id": owner_id}
        project_rows: list[Row[Any]] = []
        flows: dict[int, list[ListedFlow]] = {}
        width = len(listed_columns(Project))
        for row in await self.session.execute(statement, parameters):
            project_id = row.id
            if project_id not in flows:
                project_rows.append(row)
                flows[project_id] = []
            if row[width] is not None:  # the flow's id: None when the project has no flow
                flows[project_id].append(ListedFlow._make(row[width:]))
        rows = PageRows(
            rows=project_rows[:limit],
            offset=offset,
            has_more=len(project_rows) > limit,
            count=lambda: self._count(projects.params(owner_id=owner_id)),
        )
        return rows, flows

    async def list_for_projects(self, project_ids: Sequence[int]) -> Sequence[Row[Any]]:
        statement = (
            select(*listed_columns(self.model))
            .where(self._project_column().in_(project_ids))
            .order_by(self.model.created_at, self.model.id)
        )
        return (await self.session.execute(statement)).all()

    async def delete(self, row: Owned) -> None:
        # Pending rows (an event that names this object) must reach the database first, so
        # that the database's ON DELETE rules see them.
        await self.session.flush()
        # The database cascades to what the row owns (ON DELETE CASCADE on every child).
        await self.session.execute(delete(self.model).where(self.model.id == row.id))

    async def graph_data_of(self, flow_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, dict[str, Any]]:
        statement = select(Flow.id, Flow.graph_data).where(Flow.id.in_(flow_ids))
        return {row.id: row.graph_data for row in await self.session.execute(statement)}

    def _project_column(self) -> InstrumentedAttribute[int | None]:
        column = PROJECT_COLUMNS.get(self.model)
        if column is None:
            raise TypeError("projects are not filtered by project")
        return column
