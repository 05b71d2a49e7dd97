"""Shared fixtures: one migrated database per backend (SQLite always, PostgreSQL when
TEST_DATABASE_URL is set), emptied of user data before each test."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from db.engine import create_engine, create_session_factory
from db.migrations import upgrade_database
from db.models import BackofficeUser, EventLog, User

pytest_plugins = ["tests.api_fixtures", "tests.fakes.fixtures"]

BACKENDS = ["sqlite"] + (["postgresql"] if os.environ.get("TEST_DATABASE_URL") else [])


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    if request.param == "postgresql":
        return os.environ["TEST_DATABASE_URL"]
    return f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"


@pytest.fixture(scope="session")
async def migrated_engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    from seeds.seeding import seed_catalog

    engine = create_engine(database_url)
    await upgrade_database(engine)
    factory = create_session_factory(engine)
    async with factory() as session:
        await seed_catalog(session)
        await session.commit()
    yield engine
    await engine.dispose()


@pytest.fixture
async def engine(migrated_engine: AsyncEngine) -> AsyncEngine:
    """The migrated, seeded database with no users, and so nothing they own."""
    async with migrated_engine.begin() as connection:
        await connection.execute(delete(EventLog))
        await connection.execute(delete(User))
        await connection.execute(delete(BackofficeUser))
    return migrated_engine


@pytest.fixture
def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return create_session_factory(engine)


@pytest.fixture
async def session(
    session_factory: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    async with session_factory() as session:
        yield session


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "postgresql_only: what only PostgreSQL has (its connections dropped, the run queue)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """`postgresql_only` tests are not collected for SQLite at all (rather than skipped)."""
    kept: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        callspec = getattr(item, "callspec", None)
        params = callspec.params if callspec is not None else {}
        on_sqlite = "sqlite" in (params.get("database_url"), params.get("fresh_engine"))
        (dropped if on_sqlite and item.get_closest_marker("postgresql_only") else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
