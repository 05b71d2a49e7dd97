"""The ASGI application and the command line.

    uv run main.py serve [--host H] [--port P]   start the server (GraphiQL at /graphql)
    uv run main.py migrate                       apply database migrations
    uv run main.py seed                          write the component catalog
    uv run main.py create-user / create-admin    add an editor user / a backoffice user
    uv run main.py export-schema [FILE]          write the GraphQL SDL (default schema.graphql)
    uv run main.py run FLOW.json [--provider P]  run a flow file here, with live progress

`uvicorn main:app` serves the same application, configured from the environment.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import logging
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import RedirectResponse
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles

from db.engine import create_engine, create_session_factory
from db.migrations import upgrade_database
from resolvers.cors import cors_middleware
from resolvers.http import GraphQLView
from resolvers.middleware import RequestBodyLimits, WebSocketMessageLimit
from resolvers.serving import redact_tokens_in_server_logs, server_options
from schema.root import build_schema
from seeds.seeding import seed_catalog
from services import auth
from services.backend import Backend, open_backend
from services.errors import DomainError
from services.execution import events as run_events
from services.execution.graph import parse_graph
from services.execution.runner import RunRequest, run_flow
from services.runs import MediaDirectory
from services.settings import Settings, SettingsError, load_settings

logger = logging.getLogger("flow_backend")

SCHEMA_FILE = Path(__file__).resolve().parent / "schema.graphql"


class CommandError(Exception):
    """A command cannot do what it was asked; the message says why."""


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or load_settings()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with opened_backend(settings) as backend:
            await backend.prepare_to_serve()
            app.state.backend = backend
            yield

    view = GraphQLView(
        build_schema(settings.limits),
        connection_init_wait_timeout=timedelta(seconds=settings.limits.websocket_init_timeout_seconds),
        allowed_origins=settings.cors_origins,
    )
    settings.media_dir.mkdir(parents=True, exist_ok=True)
    redact_tokens_in_server_logs()
    limits = settings.limits
    return Starlette(
        routes=[
            Route("/", lambda request: RedirectResponse("/graphql")),
            Route("/graphql", view, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", view),
            # Generated images, referenced by URL in imageGenerator outputs.
            Mount("/media", StaticFiles(directory=settings.media_dir), name="media"),
        ],
        middleware=[
            cors_middleware(settings.cors_origins),
            Middleware(
                RequestBodyLimits, max_bytes=limits.max_request_bytes, timeout_seconds=limits.body_timeout_seconds
            ),
            Middleware(WebSocketMessageLimit, max_bytes=limits.max_websocket_message_bytes),
        ],
        lifespan=lifespan,
    )


@asynccontextmanager
async def opened_backend(settings: Settings) -> AsyncIterator[Backend]:
    """The process-wide objects, closed on exit. The embedded default sets its database up
    itself; PostgreSQL is migrated with `migrate`."""
    engine = create_engine(settings.database_url, pool_size=settings.database_pool_size)
    try:
        if settings.embedded:
            await prepare_database(engine)
        backend = await open_backend(settings, engine)
    except BaseException:
        await engine.dispose()
        raise
    try:
        yield backend
    finally:
        await backend.close()


async def prepare_database(engine: AsyncEngine) -> None:
    """Migrate to the latest schema and seed the catalog; both are safe to repeat."""
    await upgrade_database(engine)
    async with create_session_factory(engine)() as session:
        await seed_catalog(session)
        await session.commit()


def __getattr__(name: str) -> Starlette:
    # `uvicorn main:app`: built on first access, so importing main has no side effects.
    if name == "app":
        return create_app()
    raise AttributeError(name)


# -- command line ------------------------------------------------------------------------------


def serve(settings: Settings, args: argparse.Namespace) -> None:
    import uvicorn

    port = args.port or settings.port
    shown_host = "localhost" if args.host in ("0.0.0.0", "127.0.0.1") else args.host
    print(f"GraphiQL: http://{shown_host}:{port}/graphql", flush=True)
    if settings.embedded:
        print(f"Database: {settings.database_url} (embedded SQLite)", flush=True)
    uvicorn.run(
        create_app(settings), host=args.host, port=port, log_level=args.log_level, **server_options(settings)
    )


async def migrate(settings: Settings, args: argparse.Namespace) -> None:
    engine = create_engine(settings.database_url)
    try:
        await upgrade_database(engine)
    finally:
        await engine.dispose()
    print("database migrated to the latest revision")


async def seed(settings: Settings, args: argparse.Namespace) -> None:
    engine = create_engine(settings.database_url)
    try:
        async with create_session_factory(engine)() as session:
            await seed_catalog(session)
            await session.commit()
    finally:
        await engine.dispose()
    print("component catalog seeded (restart running servers to serve it)")


async def create_user(settings: Settings, args: argparse.Namespace) -> None:
    await _create_account(settings, args, "user")


async def create_admin(settings: Settings, args: argparse.Namespace) -> None:
    await _create_account(settings, args, "backoffice")


async def _create_account(settings: Settings, args: argparse.Namespace, kind: auth.AccountKind) -> None:
    password = args.password or getpass.getpass("password: ")
    async with opened_backend(settings) as backend, backend.session_factory() as session:
        account = await auth.create_account(
            session,
            backend.auth,
            kind,
            email=args.email,
            username=args.username,
            password=password,
        )
        await session.commit()
    print(f"created {'backoffice user' if kind == 'backoffice' else 'user'} {account.username} (id {account.id})")


async def run(settings: Settings, args: argparse.Namespace) -> None:
    """Runs a flow file with this machine's provider settings; nothing is stored."""
    try:
        graph = parse_graph(json.loads(Path(args.file).read_text()), settings.limits.graph_limits)
    except (OSError, ValueError) as error:
        raise CommandError(f"{args.file}: {error}") from None
    request = RunRequest(run_id=str(uuid.uuid4()), graph=graph, flow_provider_id=args.provider)
    async with opened_backend(settings) as backend:
        async for event in run_flow(
            request,
            catalog=backend.catalog,
            providers=backend.providers,
            media=MediaDirectory(settings.media_dir, url_prefix=str(settings.media_dir.resolve())),
            limits=settings.limits.graph_limits,
        ):
            print_progress(event)


def print_progress(event: run_events.RunEvent) -> None:
    match event:
        case run_events.NodeStatusChanged(node_id=node_id, status=status):
            print(f"  {node_id:<24} {status.value}", flush=True)
        case run_events.NodeCompleted(node_id=node_id, output=output):
            preview = json.dumps(output, ensure_ascii=False)
            print(f"  {node_id:<24} completed  {preview[:70]}{'...' if len(preview) > 70 else ''}", flush=True)
        case run_events.NodeFailed(node_id=node_id, error=error):
            print(f"  {node_id:<24} FAILED: {error}", flush=True)
        case run_events.RunCompleted(outputs=outputs):
            print("run completed; outputs:")
            print(json.dumps(outputs, indent=2, ensure_ascii=False))
        case run_events.RunFailed(error=error):
            print(f"run failed: {error}")
        case run_events.RunCancelled():
            print("run cancelled")


def export_schema(settings: Settings, args: argparse.Namespace) -> None:
    Path(args.file).write_text(schema_sdl())
    print(f"wrote {args.file}")


def schema_sdl() -> str:
    return build_schema().as_str() + "\n"


Command = Callable[[Settings, argparse.Namespace], Awaitable[None] | None]


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="main.py", description="Flow backend: GraphQL server for LLM prompt flows.")
    commands = root.add_subparsers(dest="command", required=True)

    serve_parser = commands.add_parser("serve", help="start the server")
    serve_parser.add_argument("--host", default="127.0.0.1")
    serve_parser.add_argument("--port", type=int, default=None, help="default: PORT or 8000")
    serve_parser.add_argument("--log-level", default="info")
    serve_parser.set_defaults(handler=serve)

    commands.add_parser("migrate", help="apply database migrations").set_defaults(handler=migrate)
    commands.add_parser("seed", help="write the component catalog").set_defaults(handler=seed)
    for name, handler, what in (
        ("create-user", create_user, "an editor user"),
        ("create-admin", create_admin, "a backoffice user"),
    ):
        account_parser = commands.add_parser(name, help=f"add {what}")
        account_parser.add_argument("--email", required=True)
        account_parser.add_argument("--username", required=True)
        account_parser.add_argument("--password", help="asked for when left out")
        account_parser.set_defaults(handler=handler)

    run_parser = commands.add_parser("run", help="run a flow file (JSON) with live progress")
    run_parser.add_argument("file")
    run_parser.add_argument("--provider", help="text provider for nodes without their own model")
    run_parser.set_defaults(handler=run)

    export_parser = commands.add_parser("export-schema", help="write the GraphQL SDL")
    export_parser.add_argument("file", nargs="?", default=str(SCHEMA_FILE))
    export_parser.set_defaults(handler=export_schema)
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        settings = load_settings()
        handler: Command = args.handler
        outcome = handler(settings, args)
        if outcome is not None:
            asyncio.run(outcome)  # type: ignore[arg-type]
    except (CommandError, SettingsError, DomainError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
