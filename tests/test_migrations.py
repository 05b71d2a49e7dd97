"""The Alembic migrations build exactly the models' schema, on both databases, and undo cleanly."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
import pytest
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
    admin = await asyncpg.connect(
        host=server_url.host, port=server_url.port, user=server_url.username, database="postgres"
    )
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
