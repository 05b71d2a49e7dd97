"""DataLoaders: one batched statement per kind of related object, whatever the list length.

Built per request (never module-level: a loader caches, and its cache must not outlive the
request or cross users)."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Hashable, Sequence
from typing import Any, Generic, TypeVar

from aiodataloader import DataLoader
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import ConsistentCharacter, Flow, Project, RunNodeResult, User
from db.repositories.projects import OwnedRepository
from db.repositories.runs import RunRepository
from db.repositories.users import AccountRepository

Key = TypeVar("Key", bound=Hashable)
Value = TypeVar("Value")


class _ByIdLoader(DataLoader[Key, Value | None], Generic[Key, Value]):
    async def fetch(self, keys: Sequence[Key]) -> Sequence[Value]:
        raise NotImplementedError

    async def batch_load_fn(self, keys: Sequence[Key]) -> list[Value | None]:
        found = {row.id: row for row in await self.fetch(keys)}  # type: ignore[attr-defined]
        return [found.get(key) for key in keys]


class UserLoader(_ByIdLoader[int, User]):
    def __init__(self, session: AsyncSession) -> None:
        super().__init__()
        self.repository = AccountRepository(session, User)

    async def fetch(self, keys: Sequence[int]) -> Sequence[User]:
        return await self.repository.get_many(keys)


class ProjectLoader(_ByIdLoader[int, Project]):
    def __init__(self, session: AsyncSession) -> None:
        super().__init__()
        self.repository = OwnedRepository(session, Project)

    async def fetch(self, keys: Sequence[int]) -> Sequence[Project]:
        return await self.repository.get_many(keys)


Child = TypeVar("Child", Flow, ConsistentCharacter)


class ByProjectLoader(DataLoader[int, list[Child]], Generic[Child]):
    """All flows (or characters) of each project, in creation order."""

    def __init__(self, session: AsyncSession, model: type[Child]) -> None:
        super().__init__()
        self.repository: OwnedRepository[Child] = OwnedRepository(session, model)

    async def batch_load_fn(self, project_ids: Sequence[int]) -> list[list[Child]]:
        grouped: defaultdict[int, list[Child]] = defaultdict(list)
        for row in await self.repository.list_for_projects(project_ids):
            if row.project_id is not None:
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
        return [graphs[flow_id] for flow_id in flow_ids]


class Loaders:
    def __init__(self, session: AsyncSession) -> None:
        self.user = UserLoader(session)
        self.project = ProjectLoader(session)
        self.flows_by_project = ByProjectLoader(session, Flow)
        self.characters_by_project = ByProjectLoader(session, ConsistentCharacter)
        self.node_results_by_run = NodeResultsByRunLoader(session)
        self.flow_graph = FlowGraphLoader(session)
