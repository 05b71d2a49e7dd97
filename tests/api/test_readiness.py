"""Probes for orchestrators: /health/live answers while the process runs; /health/ready only while
the database is reachable and migrated (and the server is not shutting down: test_shutdown.py)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from db.engine import create_engine
from db.migrations import upgrade_database
from tests.api.database_faults import database_down
from tests.api_fixtures import settings_for
from tests.graphql_client import GraphQLClient
from web.app import create_app


async def test_a_migrated_reachable_server_is_ready_and_live(api: GraphQLClient) -> None:
    ready = await api.http.get("/health/ready")
    live = await api.http.get("/health/live")

    assert (ready.status_code, ready.json()) == (200, {"status": "ok"})
    assert live.status_code == 200


async def test_a_server_is_not_ready_while_migrations_are_pending(tmp_path: Path) -> None:
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'behind.sqlite3'}"
    engine = create_engine(database_url)
    await upgrade_database(engine, "0001")  # the code is at a later revision
    await engine.dispose()
    application = create_app(settings_for(database_url, tmp_path))

    async with application.router.lifespan_context(application):
        ready = await get(application, "/health/ready")
        live = await get(application, "/health/live")

    assert ready.status_code == 503 and "migrations pending" in ready.json()["problems"][0]
    assert live.status_code == 200


@pytest.mark.postgresql_only
async def test_a_server_is_not_ready_while_the_database_is_down(app: Starlette, database_url: str) -> None:
    async with database_down(database_url):
        down = await get(app, "/health/ready")
        live = await get(app, "/health/live")
    back = await get(app, "/health/ready")

    assert down.status_code == 503 and "database unreachable" in down.json()["problems"][0]
    assert live.status_code == 200
    assert back.status_code == 200


async def get(application: Starlette, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=application)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        return await http.get(path)
