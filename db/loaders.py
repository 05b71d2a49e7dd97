"""DataLoaders: one batched statement per kind of related object, whatever the list length.

Built per request (never module-level: a loader caches, and its cache must not outlive the
request or cross users)."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Hashable, Sequence
from typing import Any, Generic, TypeVar, cast

from aiodataloader import DataLoader
from sqlalchemy import Row, inspect
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Character, Flow, Project, RunNodeResult, User
from db.repositories.base import Model, ModelRepository
from db.repositories.projects import OwnedRepository
from db.repositories.runs import RunRepository
from db.repositories.users import AccountRepository

Key = TypeVar("Key", bound=Hashable)
Value = TypeVar("Value")


class RowGone(LookupError):
    """A key's row is not there (deleted since the key was read)."""

    def __init__(self, kind: str, key: object) -> None:
        super().__init__(f"{kind} {key} not found")
        self.kind = kind
        self.key = key


def _primary_key(row: object) -> object:
    identity = inspect(row).identity
    assert identity is not None, "a loaded row has an identity"
    return identity[0]


def each_key(values: list[Value | Exception]) -> list[Value]:
    """A batch's values where a key may get an exception: aiodataloader fails that key's load
    alone (its types do not say it can)."""
    return cast(list[Value], values)


class ByIdLoader(DataLoader[Key, Model | None], Generic[Key, Model]):
    """Rows by primary key, one statement per batch; a key with no row loads None."""

    def __init__(self, repository: ModelRepository[Model]) -> None:
        super().__init__()
        self.repository = repository

    async def batch_load_fn(self, keys: Sequence[Key]) -> list[Model | None]:
        found = {_primary_key(row): row for row in await self.repository.get_many(keys)}
        return [found.get(key) for key in keys]


Child = TypeVar("Child", Flow, Character)


class ByProjectLoader(DataLoader[int, Sequence[Any]], Generic[Child]):
    """All flows (or characters) of each project, in creation order, as list rows
    (OwnedRepository: FlowListing, CharacterListing)."""

    def __init__(self, session: AsyncSession, model: type[Child]) -> None:
        super().__init__()
        self.repository: OwnedRepository[Child] = OwnedRepository(session, model)

    async def batch_load_fn(self, project_ids: Sequence[int]) -> list[Sequence[Any]]:
        grouped: defaultdict[int, list[Row[Any]]] = defaultdict(list)
        for row in await self.repository.list_for_projects(project_ids):
            grouped[row.project_id].append(row)
        return [grouped[project_id] for project_id in project_ids]


class NodeResultsByRunLoader(DataLoader[str, list[RunNodeResult]]):
    """Each run's node results (keys are run ids as GraphQL hands them over)."""

    def __init__(self, session: AsyncSession) -> None:
        super().__init__()
        self.repository = RunRepository(session)

    async def batch_load_fn(self, run_ids: Sequence[str]) -> list[list[RunNodeResult]]:
        grouped: defaultdict[str, list[RunNodeResult]] = defaultdict(list)
        for row in await self.repository.node_results_for([uuid.UUID(key) for key in run_ids]):
            grouped[str(row.run_id)].append(row)
        return [grouped[run_id] for run_id in run_ids]


class FlowGraphLoader(DataLoader[uuid.UUID, dict[str, Any]]):
    """Flows' graphs, for flows read in a list (lists leave the graphs out)."""

    def __init__(self, session: AsyncSession) -> None:
        super().__init__()
        self.repository = OwnedRepository(session, Flow)

    async def batch_load_fn(self, flow_ids: Sequence[uuid.UUID]) -> list[dict[str, Any]]:
        graphs = await self.repository.graph_data_of(flow_ids)
        # A flow gone meanwhile fails its own load, not the batch's other flows.
        return each_key([graphs.get(flow_id) or RowGone("flow", flow_id) for flow_id in flow_ids])


class Loaders:
    def __init__(self, session: AsyncSession) -> None:
        self.user = ByIdLoader[int, User](AccountRepository(session, User))
        self.project = ByIdLoader[int, Project](OwnedRepository(session, Project))
        self.flows_by_project = ByProjectLoader(session, Flow)
        self.characters_by_project = ByProjectLoader(session, Character)
        self.node_results_by_run = NodeResultsByRunLoader(session)
        self.flow_graph = FlowGraphLoader(session)
