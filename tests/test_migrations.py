"""The Alembic migrations build exactly the models' schema, on both databases, and undo cleanly."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from db.engine import create_engine
from db.migrations import downgrade_database, upgrade_database
from db.models import Base
from tests.conftest import BACKENDS


@pytest.fixture(params=BACKENDS)
async def fresh_engine(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """An empty database of its own: a new SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'fresh.sqlite3'}")
        yield engine
        await engine.dispose()
        return
    server_url = make_url(os.environ["TEST_DATABASE_URL"])
    name = f"migrations_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(host=server_url.host, port=server_url.port, user=server_url.username, database="postgres")
    await admin.execute(f'CREATE DATABASE "{name}"')
    engine = create_engine(server_url.set(database=name).render_as_string(hide_password=False))
    try:
        yield engine
    finally:
        await engine.dispose()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


QUEUE_TABLES = {"procrastinate_jobs", "procrastinate_workers", "procrastinate_events", "procrastinate_periodic_defers"}


def is_model_table(name: str | None, type_: str, parent_names: object) -> bool:
    return not (type_ == "table" and name in QUEUE_TABLES)


def differences(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True, "include_name": is_model_table})
    return list(compare_metadata(context, Base.metadata))


def table_names(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names()) - {"alembic_version"}


def model_table_names(connection: Connection) -> set[str]:
    return table_names(connection) - QUEUE_TABLES


# SQLite cannot reflect the index on lower(username), so Alembic cannot compare it there; it
# does on PostgreSQL.
@pytest.mark.filterwarnings("ignore:autogenerate skipping metadata-specified expression-based index")
@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index")
async def test_upgraded_database_matches_the_models(fresh_engine: AsyncEngine) -> None:
    await upgrade_database(fresh_engine)
    async with fresh_engine.connect() as connection:
        assert await connection.run_sync(differences) == []


async def test_upgrade_creates_every_table_of_the_models(fresh_engine: AsyncEngine) -> None:
    await upgrade_database(fresh_engine)
    async with fresh_engine.connect() as connection:
        assert await connection.run_sync(model_table_names) == set(Base.metadata.tables)


@pytest.mark.postgresql_only
async def test_upgrade_creates_the_run_queues_tables_on_postgresql(fresh_engine: AsyncEngine) -> None:
    await upgrade_database(fresh_engine)
    async with fresh_engine.connect() as connection:
        assert QUEUE_TABLES <= await connection.run_sync(table_names)


# Dropping a column on SQLite rebuilds the table (batch mode), reflecting the users table too.
@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index")
async def test_downgrade_to_base_removes_every_table(fresh_engine: AsyncEngine) -> None:
    await upgrade_database(fresh_engine)
    await downgrade_database(fresh_engine, "base")
    async with fresh_engine.connect() as connection:
        assert await connection.run_sync(table_names) == set()


# The tables as revision 0004 left them: only the columns this test writes.
_USERS = sa.table(
    "users",
    sa.column("id", sa.Integer),
    sa.column("email"),
    sa.column("username"),
    sa.column("password_hash"),
    sa.column("created_at", sa.DateTime(timezone=True)),
)
_RUNS = sa.table(
    "runs",
    sa.column("id", sa.Uuid),
    sa.column("user_id", sa.Integer),
    sa.column("status"),
    sa.column("graph_data", sa.JSON),
    sa.column("created_at", sa.DateTime(timezone=True)),
)
_EVENT_LOGS = sa.table(
    "event_logs",
    sa.column("id", sa.Uuid),
    sa.column("event_name"),
    sa.column("payload", sa.JSON),
    sa.column("user_id", sa.Integer),
    sa.column("run_id", sa.Uuid),
    sa.column("seq", sa.Integer),
    sa.column("created_at", sa.DateTime(timezone=True)),
)


async def test_upgrade_names_stored_run_events_by_their_type_and_keeps_domain_event_names(
    fresh_engine: AsyncEngine,
) -> None:
    await upgrade_database(fresh_engine, "0004")
    now, run_id = datetime.now(UTC), uuid.uuid4()
    async with fresh_engine.begin() as connection:
        await connection.execute(_USERS.insert().values(id=1, email="a@b.co", username="ann", password_hash="x", created_at=now))
        await connection.execute(_RUNS.insert().values(id=run_id, user_id=1, status="completed", graph_data={}, created_at=now))
        await connection.execute(
            _EVENT_LOGS.insert(),
            [
                {
                    "id": uuid.uuid4(),
                    "event_name": name,
                    "payload": {},
                    "user_id": 1,
                    "run_id": run,
                    "seq": seq,
                    "created_at": now,
                }
                for name, run, seq in (("run.started", run_id, 1), ("run.completed", run_id, 2), ("run.completed", None, None))
            ],
        )
    await upgrade_database(fresh_engine)
    async with fresh_engine.connect() as connection:
        rows = (await connection.execute(sa.select(_EVENT_LOGS.c.event_name, _EVENT_LOGS.c.seq))).all()
    assert {row.seq: row.event_name for row in rows} == {1: "RunStarted", 2: "RunCompleted", None: "run.completed"}
