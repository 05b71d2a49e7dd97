"""The command line: `main.py <command>` (main.py's docstring lists them)."""

from __future__ import annotations

import argparse
import asyncio
import gc
import getpass
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

from services.errors import DomainError
from services.platform.logs import configure_logging
from services.platform.settings import Settings, SettingsError, load_settings
from web.app import create_app, opened_backend

# Each command imports what it uses: the web stack and the database layer take a second or more.
if TYPE_CHECKING:
    from services.accounts.tokens import AccountKind

SCHEMA_FILE = Path(__file__).resolve().parent.parent / "schema.graphql"


class CommandError(Exception):
    """A command cannot do what it was asked; the message says why."""


def serve(settings: Settings, args: argparse.Namespace) -> None:
    from web.serving import serve_until_drained

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
    print("component catalog written to its tables")


async def create_user(settings: Settings, args: argparse.Namespace) -> None:
    await _create_account(settings, args, "user")


async def create_admin(settings: Settings, args: argparse.Namespace) -> None:
    await _create_account(settings, args, "backoffice")


async def _create_account(settings: Settings, args: argparse.Namespace, kind: AccountKind) -> None:
    from services.accounts import auth

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
    from cli import run_command
    from cli.live_view import open_display

    try:
        flow = run_command.load_flow(Path(args.file), provider_id=args.provider, settings=settings)
    except run_command.RunRefused as error:
        raise CommandError(str(error)) from None
    async with open_display(flow, json_lines=args.json) as display:
        return await run_command.execute(flow, settings, display.show)


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
    commands.add_parser("seed", help="write the component catalog into its tables").set_defaults(handler=seed)
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
