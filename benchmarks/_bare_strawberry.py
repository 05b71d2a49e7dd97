"""Bare Strawberry apps, the anchors the project is measured against.

    python -m benchmarks._bare_strawberry hello --port P
    python -m benchmarks._bare_strawberry projects --port P --database URL [--no-caches]
    python -m benchmarks._bare_strawberry events --port P

- hello: `{ hello }`, Strawberry's ParserCache and ValidationCache on: what Strawberry itself
  costs per request.
- projects: `{ projects(first: 20) { nodes { name flows { name } } } }` over the project's own
  database file, the textbook way: a SQLAlchemy ORM session per request, the page of projects
  in one SELECT and their flows through a per-request DataLoader (two SELECTs in all). No
  authentication and no COUNT: the anchor does the least the query needs.
- events: a subscription `runFlow(input)` yielding, with the same types and fields, the events
  a client received from the project in one run (`--recording`), spaced as they arrived: what
  Strawberry itself costs per delivered event over graphql-transport-ws.

Each runs under uvicorn with the project's defaults (uvloop, httptools), one worker.
"""

from __future__ import annotations

import argparse
import asyncio
import enum
import json
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import strawberry
import uvicorn
from sqlalchemy import ForeignKey, Uuid, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from starlette.applications import Starlette
from starlette.routing import Route, WebSocketRoute
from strawberry.asgi import GraphQL
from strawberry.dataloader import DataLoader
from strawberry.extensions import ParserCache, SchemaExtension, ValidationCache
from strawberry.scalars import JSON
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL

# Factories, as Strawberry asks: their LRU caches live at module level, shared by every request.
CACHES: list[Callable[[], SchemaExtension]] = [lambda: ParserCache(maxsize=128), lambda: ValidationCache(maxsize=128)]


# --- hello --------------------------------------------------------------------------------------


@strawberry.type
class HelloQuery:
    @strawberry.field
    def hello(self) -> str:
        return "world"


def hello_app() -> GraphQL[Any, Any]:
    return GraphQL(strawberry.Schema(query=HelloQuery, extensions=CACHES))


# --- projects -----------------------------------------------------------------------------------


class Base(DeclarativeBase):
    pass


class ProjectRow(Base):
    __tablename__ = "projects"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str]
    created_at: Mapped[datetime]


class FlowRow(Base):
    __tablename__ = "flows"
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"))
    name: Mapped[str]
    created_at: Mapped[datetime]


@strawberry.type
class FlowNode:
    name: str


@strawberry.type
class ProjectNode:
    id: strawberry.Private[int]
    name: str

    @strawberry.field
    async def flows(self, info: strawberry.Info) -> list[FlowNode]:
        return await info.context["flows"].load(self.id)


@strawberry.type
class ProjectPage:
    nodes: list[ProjectNode]


@strawberry.type
class ProjectsQuery:
    @strawberry.field
    async def projects(self, info: strawberry.Info, first: int = 20) -> ProjectPage:
        session: AsyncSession = info.context["session"]
        statement = select(ProjectRow).order_by(ProjectRow.created_at, ProjectRow.id).limit(first)
        rows = (await session.scalars(statement)).all()
        return ProjectPage(nodes=[ProjectNode(id=row.id, name=row.name) for row in rows])


class ProjectsGraphQL(GraphQL[Any, Any]):
    def __init__(self, schema: strawberry.Schema, sessions: async_sessionmaker[AsyncSession]) -> None:
        super().__init__(schema)
        self.sessions = sessions

    async def get_context(self, request: Any, response: Any) -> dict[str, Any]:
        session = self.sessions()

        async def load_flows(project_ids: Sequence[int]) -> list[list[FlowNode]]:
            statement = (
                select(FlowRow).where(FlowRow.project_id.in_(project_ids)).order_by(FlowRow.created_at, FlowRow.id)
            )
            found: dict[int, list[FlowNode]] = {project_id: [] for project_id in project_ids}
            for row in (await session.scalars(statement)).all():
                found[row.project_id].append(FlowNode(name=row.name))
            return [found[project_id] for project_id in project_ids]

        return {"session": session, "flows": DataLoader(load_fn=load_flows), "request": request}



class CloseSession(SchemaExtension):
    async def on_operation(self) -> AsyncIterator[None]:
        yield
        await self.execution_context.context["session"].close()


def projects_app(database_url: str, caches: bool) -> GraphQL[Any, Any]:
    sessions = async_sessionmaker(create_async_engine(database_url), expire_on_commit=False)
    extensions: list[Callable[[], SchemaExtension]] = [CloseSession, *(CACHES if caches else [])]
    return ProjectsGraphQL(strawberry.Schema(query=ProjectsQuery, extensions=extensions), sessions)


# --- events -------------------------------------------------------------------------------------


@strawberry.enum
class NodeStatus(enum.Enum):
    PENDING = "pending"
    RUNNING = "running"
    CACHED = "cached"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"


@strawberry.interface
class RunEvent:
    run_id: strawberry.ID
    seq: int
    at: datetime


@strawberry.type
class RunStarted(RunEvent):
    flow_id: strawberry.ID | None = None


@strawberry.type
class NodeStatusChanged(RunEvent):
    node_id: str
    status: NodeStatus


@strawberry.type
class NodeOutputDelta(RunEvent):
    node_id: str
    delta: str


@strawberry.type
class NodeCompleted(RunEvent):
    node_id: str
    output: JSON


@strawberry.type
class RunCompleted(RunEvent):
    outputs: JSON


@strawberry.type
class RunFailed(RunEvent):
    error: str


EVENT_TYPES: dict[str, type[RunEvent]] = {
    kind.__name__: kind for kind in (RunStarted, NodeStatusChanged, NodeOutputDelta, NodeCompleted, RunCompleted, RunFailed)
}


@strawberry.input
class RunInput:
    flow_id: strawberry.ID | None = None
    graph: JSON | None = None
    provider_id: str | None = None


def replayed_event(recorded: dict[str, Any], run_id: str) -> RunEvent:
    """One recorded event (the `runFlow` payload a client received from the project) again."""
    fields = {_snake(name): value for name, value in recorded.items() if name not in ("__typename", "at")}
    fields["run_id"] = run_id
    if "status" in fields:
        fields["status"] = NodeStatus(fields["status"].lower())
    return EVENT_TYPES[recorded["__typename"]](**fields, at=datetime.now(UTC))


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name)


@strawberry.type
class EventsQuery:
    @strawberry.field
    def hello(self) -> str:
        return "world"


def events_app(recording: list[tuple[float, dict[str, Any]]]) -> GraphQL[Any, Any]:
    """`recording`: (seconds since the previous event, payload) for each event of one run."""

    @strawberry.type
    class Subscription:
        @strawberry.subscription
        async def run_flow(self, input: RunInput) -> AsyncGenerator[RunEvent, None]:
            run_id = str(uuid.uuid4())
            for gap, recorded in recording:
                if gap > 0.001:
                    await asyncio.sleep(gap)
                yield replayed_event(recorded, run_id)

    schema = strawberry.Schema(
        query=EventsQuery, subscription=Subscription, types=list(EVENT_TYPES.values()), extensions=CACHES
    )
    return GraphQL(schema, subscription_protocols=[GRAPHQL_TRANSPORT_WS_PROTOCOL])


def main() -> None:
    arguments = argparse.ArgumentParser()
    arguments.add_argument("app", choices=["hello", "projects", "events"])
    arguments.add_argument("--port", type=int, required=True)
    arguments.add_argument("--database")
    arguments.add_argument("--no-caches", action="store_true")
    arguments.add_argument("--recording", help="JSON file: [[gap seconds, payload], ...] of one run")
    options = arguments.parse_args()
    if options.app == "hello":
        app: Any = hello_app()
    elif options.app == "projects":
        app = projects_app(options.database, caches=not options.no_caches)
    else:
        app = events_app(json.loads(Path(options.recording).read_text()))
    routes = Starlette(routes=[Route("/graphql", app), WebSocketRoute("/graphql", app)])
    uvicorn.run(routes, host="127.0.0.1", port=options.port, log_level="warning")


if __name__ == "__main__":
    main()
