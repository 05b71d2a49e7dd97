"""Projects and what they hold. Related objects come through the request's DataLoaders."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Sequence
from datetime import datetime
from typing import Annotated, Any

import strawberry
from strawberry.scalars import JSON

from db.base import is_loaded
from db.loaders import RowGone
from db.models import Character as CharacterModel
from db.models import Flow as FlowModel
from db.models import Project as ProjectModel
from db.repositories.projects import CharacterListing, FlowListing, ProjectListing
from schema.context import Info
from schema.types.accounts import User
from services.errors import NotFound


async def _owner(info: Info, user_id: int) -> User:
    user = await info.context.loaders.user.load(user_id)
    assert user is not None, "an owned object always has its owner (ON DELETE CASCADE)"
    return User.from_model(user)


async def _project(info: Info, project_id: int) -> Project:
    project = await info.context.loaders.project.load(project_id)
    assert project is not None, "a project's children are deleted with it"
    return Project.from_model(project)


@strawberry.type
class Project:
    id: strawberry.ID
    name: str
    description: str
    created_at: datetime
    updated_at: datetime
    owner_id: strawberry.Private[int]
    # Its flows when they were read with it (a page of projects whose flows are selected).
    listed_flows: strawberry.Private[Sequence[FlowListing] | None] = None

    @strawberry.field
    async def owner(self, info: Info) -> User:
        return await _owner(info, self.owner_id)

    # Not a coroutine function: flows read with the project are answered at once, without a
    # coroutine and an await per project for GraphQL to schedule (a page has twenty).
    @strawberry.field(
        description="The project's flows, oldest first.",
        graphql_type=list[Annotated["Flow", strawberry.lazy("schema.types.projects")]],
    )
    def flows(self, info: Info) -> list[Flow] | Awaitable[list[Flow]]:
        if self.listed_flows is not None:
            return [Flow.from_model(row) for row in self.listed_flows]
        return self._load_flows(info)

    async def _load_flows(self, info: Info) -> list[Flow]:
        rows = await info.context.loaders.flows_by_project.load(int(self.id))
        return [Flow.from_model(row) for row in rows]

    @strawberry.field(description="The project's characters, oldest first.")
    async def characters(self, info: Info) -> list[Character]:
        rows = await info.context.loaders.characters_by_project.load(int(self.id))
        return [Character.from_model(row) for row in rows]

    @classmethod
    def from_model(
        cls, project: ProjectModel | ProjectListing, *, flows: Sequence[FlowListing] | None = None
    ) -> Project:
        return cls(
            listed_flows=flows,
            id=strawberry.ID(str(project.id)),
            name=project.name,
            description=project.description,
            created_at=project.created_at,
            updated_at=project.updated_at,
            owner_id=project.user_id,
        )


@strawberry.type
class Flow:
    id: strawberry.ID
    name: str
    provider_id: str | None
    version: int = strawberry.field(description="Send it back with updateFlow: optimistic locking.")
    created_at: datetime
    updated_at: datetime
    owner_id: strawberry.Private[int]
    project_id: strawberry.Private[int]
    # None when the flow was read in a list, which leaves graphs out.
    loaded_graph_data: strawberry.Private[dict[str, Any] | None]

    @strawberry.field(description="React Flow's nodes, edges and viewport.")
    async def graph_data(self, info: Info) -> JSON:
        if self.loaded_graph_data is not None:
            return JSON(self.loaded_graph_data)
        try:
            return JSON(await info.context.loaders.flow_graph.load(uuid.UUID(self.id)))
        except RowGone:
            raise NotFound("flow", self.id) from None

    @strawberry.field
    async def owner(self, info: Info) -> User:
        return await _owner(info, self.owner_id)

    @strawberry.field
    async def project(self, info: Info) -> Project:
        return await _project(info, self.project_id)

    @classmethod
    def from_model(cls, flow: FlowModel | FlowListing) -> Flow:
        """From the model, graph included when loaded, or from a list's row (no graph)."""
        graph = flow.graph_data if isinstance(flow, FlowModel) and is_loaded(flow, "graph_data") else None
        return cls(
            id=strawberry.ID(str(flow.id)),
            name=flow.name,
            loaded_graph_data=graph,
            provider_id=flow.provider_id,
            version=flow.version,
            created_at=flow.created_at,
            updated_at=flow.updated_at,
            owner_id=flow.user_id,
            project_id=flow.project_id,
        )


@strawberry.type(description="A consistent character: a persona reused across flows.")
class Character:
    id: strawberry.ID
    name: str
    description: str
    appearance: str
    personality: str
    outfit: str
    extra: JSON
    created_at: datetime
    updated_at: datetime
    owner_id: strawberry.Private[int]
    project_id: strawberry.Private[int | None]

    @strawberry.field
    async def owner(self, info: Info) -> User:
        return await _owner(info, self.owner_id)

    @strawberry.field
    async def project(self, info: Info) -> Project | None:
        return None if self.project_id is None else await _project(info, self.project_id)

    @classmethod
    def from_model(cls, character: CharacterModel | CharacterListing) -> Character:
        return cls(
            id=strawberry.ID(str(character.id)),
            name=character.name,
            description=character.description,
            appearance=character.appearance,
            personality=character.personality,
            outfit=character.outfit,
            extra=JSON(character.extra),
            created_at=character.created_at,
            updated_at=character.updated_at,
            owner_id=character.user_id,
            project_id=character.project_id,
        )
