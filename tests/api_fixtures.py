"""Fixtures for tests that go through the GraphQL API: the real app, over ASGI or a real socket."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from services.accounts import auth
from services.platform.settings import Settings, load_settings
from tests.fakes.server import serve_app
from tests.graphql_client import PASSWORD, GraphQLClient
from web.app import create_app
from web.serving import server_options

TEST_SECRET_KEY = "test-secret-key-that-is-long-enough-for-hs256"


def settings_for(database_url: str, workdir: Path, **overrides: str) -> Settings:
    environ = {
        "DATABASE_URL": database_url,
        "AUTH_SECRET_KEY": TEST_SECRET_KEY,
        # The lowest cost bcrypt allows: hashing stays real but fast.
        "BCRYPT_ROUNDS": "4",
        "MEDIA_DIR": str(workdir / "media"),
        **overrides,
    }
    return load_settings(environ, workdir=workdir)


def provider_environment(provider_url: str) -> dict[str, str]:
    """Mistral and Fireworks pointed at the fakes; the other providers unavailable."""
    return {
        "MISTRAL_API_KEY": "test-key",
        "MISTRAL_BASE_URL": provider_url,
        "FIREWORKS_API_KEY": "test-key",
        "FIREWORKS_BASE_URL": provider_url,
    }


def provider_settings(database_url: str, workdir: Path, provider_url: str, **overrides: str) -> Settings:
    return settings_for(database_url, workdir, **provider_environment(provider_url), **overrides)


@pytest.fixture
def settings(database_url: str, workdir: Path) -> Settings:
    return settings_for(database_url, workdir)


@pytest.fixture
async def app(settings: Settings, engine: AsyncEngine) -> AsyncIterator[Starlette]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def api(app: Starlette) -> AsyncIterator[GraphQLClient]:
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield GraphQLClient(http)


@pytest.fixture
async def live_server(settings: Settings, engine: AsyncEngine) -> AsyncIterator[str]:
    """The app behind uvicorn on a free port, configured as `main.py serve` configures it, for
    websocket tests; yields its base URL."""
    application = create_app(settings)
    async with (
        application.router.lifespan_context(application),
        serve_app(application, **server_options(settings)) as base_url,
    ):
        yield base_url


@pytest.fixture
async def live_api(live_server: str) -> AsyncIterator[GraphQLClient]:
    async with httpx.AsyncClient(base_url=live_server) as http:
        yield GraphQLClient(http)


async def create_admin(app: Starlette, username: str = "root") -> None:
    """A backoffice user, made the way `main.py create-admin` makes one."""
    backend = app.state.backend
    async with backend.session_factory() as session:
        await auth.create_account(
            session, backend.auth, "backoffice", email=f"{username}@example.com", username=username, password=PASSWORD
        )
        await session.commit()


async def backoffice_token(api: GraphQLClient, app: Starlette, username: str = "root") -> str:
    """An access token of a new backoffice user, signed in over the API."""
    await create_admin(app, username)
    result = await api.execute(
        "mutation($i: String!, $p: String!) { backofficeLogin(input: {identifier: $i, password: $p}) { accessToken } }",
        {"i": username, "p": PASSWORD},
    )
    return result.ok()["backofficeLogin"]["accessToken"]


@asynccontextmanager
async def api_with(settings: Settings, engine: AsyncEngine) -> AsyncIterator[GraphQLClient]:
    """A client of an app of its own, for tests that need other settings than `api`'s.

    (`engine` is the test database fixture: taking it empties the database first.)"""
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application, client=("203.0.113.9", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield GraphQLClient(http)
