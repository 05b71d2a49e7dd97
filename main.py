"""The ASGI application and the command line.

    uv run main.py serve [--host H] [--port P] [--no-worker]
                                                 start the server (GraphiQL at /graphql)
    uv run main.py worker                        execute queued runs, serve no HTTP (distributed mode)
    uv run main.py migrate                       apply database migrations
    uv run main.py seed                          write the component catalog
    uv run main.py create-user / create-admin    add an editor user / a backoffice user
    uv run main.py export-schema [FILE]          write the GraphQL SDL (default schema.graphql)
    uv run main.py run FLOW.json [--provider P] [--json]
                                                 run a flow file here, with live progress

`uvicorn main:app` serves the same application, configured from the environment.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import getpass
import logging
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from services.errors import DomainError
from services.logs import configure_logging
from services.settings import Settings, SettingsError, load_settings

# The web stack and the database layer take a second or more to import: each command imports
# what it uses, so `run` shows its first line at once and `uvicorn main:app` pays only for the app.
if TYPE_CHECKING:
    from opentelemetry.trace import TracerProvider
    from sqlalchemy.ext.asyncio import AsyncEngine
    from starlette.applications import Starlette

    from services.backend import Backend
    from services.tokens import AccountKind

logger = logging.getLogger("flow_backend")

SCHEMA_FILE = Path(__file__).resolve().parent / "schema.graphql"


class CommandError(Exception):
    """A command cannot do what it was asked; the message says why."""


def create_app(
    settings: Settings | None = None,
    *,
    serving: bool = False,
    execute_runs: bool = True,
    tracer_provider: TracerProvider | None = None,
) -> Starlette:
    """The application. `serving`: this process is a server and nothing else (not a test).
    `execute_runs`: distributed mode, this process claims queued runs too (not only serves).
    `tracer_provider`: where traces go; by default what the OTEL_* settings say (none: off)."""
    from datetime import timedelta

    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.responses import RedirectResponse
    from starlette.routing import Mount, Route, WebSocketRoute
    from starlette.staticfiles import StaticFiles

    from resolvers.cors import cors_middleware
    from resolvers.middleware import RequestBodyLimits, WebSocketMessageLimit
    from resolvers.operations import operations_routes
    from resolvers.pages import page_routes
    from resolvers.serving import redact_tokens_in_server_logs
    from resolvers.view import GraphQLView
    from schema.root import build_schema
    from services.telemetry import start_tracing

    settings = settings or load_settings()
    tracer_provider = start_tracing(settings.telemetry, tracer_provider)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with opened_backend(settings) as backend:
            await backend.prepare_to_serve(execute_runs=execute_runs)
            app.state.backend = backend
            if serving:
                # What start-up built lives as long as the process: out of the collector's
                # sight, full collections take milliseconds instead of hundreds of them.
                gc.freeze()
            yield

    view = GraphQLView(
        build_schema(settings.limits, tracer_provider=tracer_provider),
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
            *page_routes(),
            *operations_routes(),
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
    from db.engine import create_engine
    from services.backend import open_backend

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
    from db.engine import create_session_factory
    from db.migrations import upgrade_database
    from seeds.seeding import seed_catalog

    await upgrade_database(engine)
    async with create_session_factory(engine)() as session:
        await seed_catalog(session)
        await session.commit()


def __getattr__(name: str) -> Starlette:
    # `uvicorn main:app`: built on first access, so importing main has no side effects.
    if name == "app":
        return create_app(serving=True)
    raise AttributeError(name)


# -- command line ------------------------------------------------------------------------------


def serve(settings: Settings, args: argparse.Namespace) -> None:
    from resolvers.serving import serve_until_drained

    port = args.port or settings.port
    shown_host = "localhost" if args.host in ("0.0.0.0", "127.0.0.1") else args.host
    print(f"GraphiQL: http://{shown_host}:{port}/graphql (its scripts come from a CDN: it needs internet)", flush=True)
    print(f"Run pages: http://{shown_host}:{port}/runs/<run id>, /flows/<flow id> (work offline)", flush=True)
    if settings.embedded:
        print(f"Database: {settings.database_url} (embedded SQLite)", flush=True)
    if args.no_worker and not settings.distributed:
        raise CommandError("--no-worker is for distributed mode (REDIS_URL and a PostgreSQL DATABASE_URL)")
    app = create_app(settings, serving=True, execute_runs=not args.no_worker)
    serve_until_drained(app, settings, host=args.host, port=port, log_level=args.log_level)


async def worker(settings: Settings, args: argparse.Namespace) -> None:
    """Executes queued runs until SIGTERM or Ctrl-C, then gives live runs the grace period."""
    import signal

    if not settings.distributed:
        raise CommandError("`worker` is for distributed mode: set REDIS_URL and a PostgreSQL DATABASE_URL")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signal_number in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signal_number, stop.set)
    async with opened_backend(settings) as backend:
        await backend.prepare_to_serve()
        gc.freeze()  # as `serve` does: what start-up built lives as long as the process
        print("worker: executing queued runs (SIGTERM or Ctrl-C stops it)", flush=True)
        await stop.wait()
        if backend.queue is not None:
            await backend.queue.stop_worker()
        await backend.runs.close(grace_seconds=settings.shutdown_grace_seconds)


async def migrate(settings: Settings, args: argparse.Namespace) -> None:
    from db.engine import create_engine
    from db.migrations import upgrade_database

    engine = create_engine(settings.database_url)
    try:
        await upgrade_database(engine)
    finally:
        await engine.dispose()
    print("database migrated to the latest revision")


async def seed(settings: Settings, args: argparse.Namespace) -> None:
    from db.engine import create_engine, create_session_factory
    from seeds.seeding import seed_catalog

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


async def _create_account(settings: Settings, args: argparse.Namespace, kind: AccountKind) -> None:
    from services import auth

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


async def run(settings: Settings, args: argparse.Namespace) -> int:
    """Runs a flow file with this machine's provider settings; nothing is stored."""
    from services import cli_run
    from services.run_display import open_display

    try:
        flow = cli_run.load_flow(Path(args.file), provider_id=args.provider, settings=settings)
    except cli_run.RunRefused as error:
        raise CommandError(str(error)) from None
    async with open_display(flow, json_lines=args.json) as display:
        return await cli_run.execute(flow, settings, display.show)


def export_schema(settings: Settings, args: argparse.Namespace) -> None:
    Path(args.file).write_text(schema_sdl())
    print(f"wrote {args.file}")


def schema_sdl() -> str:
    from schema.root import build_schema

    return build_schema().as_str() + "\n"


# A command returns its exit status, or None for 0.
Command = Callable[[Settings, argparse.Namespace], Awaitable[int | None] | None]


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="main.py", description="Flow backend: GraphQL server for LLM prompt flows.")
    commands = root.add_subparsers(dest="command", required=True)

    serve_parser = commands.add_parser("serve", help="start the server")
    serve_parser.add_argument("--host", default="127.0.0.1")
    serve_parser.add_argument("--port", type=int, default=None, help="default: PORT or 8000")
    serve_parser.add_argument("--log-level", default="info")
    serve_parser.add_argument(
        "--no-worker", action="store_true", help="distributed mode: serve the API, leave runs to `worker` processes"
    )
    serve_parser.set_defaults(handler=serve)

    commands.add_parser("worker", help="execute queued runs, no HTTP (distributed mode)").set_defaults(handler=worker)

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

    run_parser = commands.add_parser(
        "run",
        help="run a flow file (JSON) with live progress",
        description="Exit status: 0 completed, 1 failed, 2 bad input (nothing ran), 130 cancelled (Ctrl-C).",
    )
    run_parser.add_argument("file")
    run_parser.add_argument("--provider", help="text provider for nodes without their own model")
    run_parser.add_argument("--json", action="store_true", help="print the events as JSON lines")
    run_parser.set_defaults(handler=run)

    export_parser = commands.add_parser("export-schema", help="write the GraphQL SDL")
    export_parser.add_argument("file", nargs="?", default=str(SCHEMA_FILE))
    export_parser.set_defaults(handler=export_schema)
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        settings = load_settings()
        configure_logging(settings.log_format)
        handler: Command = args.handler
        outcome = handler(settings, args)
        status = asyncio.run(_awaited(outcome)) if outcome is not None else None
    except (CommandError, SettingsError, DomainError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl-C before a run had started, or in another command
        return 130
    except BrokenPipeError:  # the reader of our output went away (`run --json | head`)
        # Python would complain again while flushing stdout at exit: point it at nothing.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # as when SIGPIPE ends a process
    return status or 0


async def _awaited(outcome: Awaitable[int | None]) -> int | None:
    return await outcome


if __name__ == "__main__":
    sys.exit(main())
