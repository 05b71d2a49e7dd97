"""PostgreSQL failing under the app: its connections terminated, or the database refusing any."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import asyncpg  # type: ignore[import-untyped]


def _dsn(database_url: str) -> str:
    return database_url.replace("postgresql+asyncpg://", "postgresql://")


async def terminate_connections(database_url: str) -> None:
    """What an operator's pg_terminate_backend (or a failover) does to the app's connections."""
    connection = await asyncpg.connect(_dsn(database_url))
    try:
        await connection.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    finally:
        await connection.close()


@contextlib.asynccontextmanager
async def database_down(database_url: str) -> AsyncIterator[None]:
    """The database refuses every connection, and those it had are gone."""
    name = database_url.rsplit("/", 1)[1]
    admin = await asyncpg.connect(_dsn(database_url).rsplit("/", 1)[0] + "/postgres")
    try:
        await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name
        )
        yield
    finally:
        await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        await admin.close()
