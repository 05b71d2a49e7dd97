"""Fixtures most API tests share: a signed-up user and a project of hers; fake providers."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.api_fixtures import TEST_SECRET_KEY, provider_environment
from tests.fakes.providers import FakeProviderState, fake_provider_app
from tests.fakes.server import serve_app
from tests.graphql_client import Account, GraphQLClient
from tests.node_scripts import chromium_missing, node_packages_missing
from tests.redis_keys import delete_keys


@pytest.fixture
async def alice(api: GraphQLClient) -> Account:
    return await api.signup("alice")


@pytest.fixture
async def project(api: GraphQLClient, alice: Account) -> str:
    return await api.create_project(alice)


@pytest.fixture
def fake_providers() -> FakeProviderState:
    return FakeProviderState()


@pytest.fixture
async def provider_url(fake_providers: FakeProviderState) -> AsyncIterator[str]:
    """Our fake OpenAI-compatible and Fireworks servers on 127.0.0.1."""
    async with serve_app(fake_provider_app(fake_providers)) as base_url:
        yield base_url


@pytest.fixture(scope="session")
def node_packages() -> None:
    """Node.js with tests/js's packages (the test skips, saying why, without Node.js or npm)."""
    problem = node_packages_missing()
    if problem is not None:
        pytest.skip(f"no Node.js for this test: {problem}")


@pytest.fixture(scope="session")
def chromium(node_packages: None) -> None:
    """Headless Chromium and playwright-core for tests/js/*.mjs (the test skips, saying why,
    without them)."""
    problem = chromium_missing()
    if problem is not None:
        pytest.skip(f"no headless browser for this test: {problem}")


# --- distributed mode: processes sharing PostgreSQL and Redis ------------------------------

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
async def redis_prefix() -> AsyncIterator[str]:
    prefix = f"test-{uuid.uuid4().hex[:12]}:"
    yield prefix
    await delete_keys(REDIS_URL, prefix)


@pytest.fixture
def cluster_environment(
    database_url: str, workdir: Path, provider_url: str, redis_prefix: str, engine: AsyncEngine
) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url,
        "AUTH_SECRET_KEY": TEST_SECRET_KEY,
        "BCRYPT_ROUNDS": "4",
        "MEDIA_DIR": str(workdir / "media"),
        "REDIS_URL": REDIS_URL,
        "REDIS_PREFIX": redis_prefix,
        "WORKER_DEAD_AFTER_SECONDS": "3",
        **provider_environment(provider_url),
    }
