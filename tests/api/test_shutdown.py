"""Stopping the real server (`main.py serve`) with SIGTERM: it takes no new runs, lets live ones
finish within SHUTDOWN_GRACE_SECONDS, then cancels the rest, each log ending with its terminal
event; its logs can be JSON lines (LOG_FORMAT=json)."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from db.models import Run
from tests.api.run_client import RUN, RUN_EVENTS, START_RUN, STORY, collect, receive_events
from tests.api_fixtures import TEST_SECRET_KEY, provider_environment
from tests.fakes.providers import FakeProviderState, SlowChunks
from tests.graphql_client import Account, GraphQLClient, graphql_ws
from tests.server_process import ServerProcess, server_process
from tests.waiting import wait_until


def server_environment(database_url: str, workdir: Path, provider_url: str, **overrides: str) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url,
        "AUTH_SECRET_KEY": TEST_SECRET_KEY,
        "BCRYPT_ROUNDS": "4",
        "MEDIA_DIR": str(workdir / "media"),
        **provider_environment(provider_url),
        **overrides,
    }



async def stored_status(engine: AsyncEngine, run_id: str) -> str | None:
    async with AsyncSession(engine) as session:
        return await session.scalar(select(Run.status).where(Run.id == uuid.UUID(run_id)))


async def follow_to_the_end(
    server: ServerProcess, account: Account, run_id: str, following: asyncio.Event
) -> list[dict[str, Any]]:
    """The run's events, from its first; sets `following` once the first has arrived."""
    async with graphql_ws(server.url, payload={"token": account.access_token}) as connection:
        operation = await connection.subscribe(RUN_EVENTS, {"runId": run_id})
        first = await receive_events(connection, 1)
        following.set()
        return first + await collect(connection, operation)


async def followed(server: ServerProcess, account: Account, run_id: str) -> asyncio.Task[list[dict[str, Any]]]:
    """A task following the run to its end, returned once its first event has arrived."""
    following = asyncio.Event()
    task = asyncio.create_task(follow_to_the_end(server, account, run_id, following))
    await asyncio.wait_for(following.wait(), timeout=30)
    return task


async def test_sigterm_refuses_new_runs_and_lets_live_ones_finish(
    engine: AsyncEngine, database_url: str, workdir: Path, provider_url: str, fake_providers: FakeProviderState
) -> None:
    fake_providers.persistent = SlowChunks(seconds=0.03)
    environ = server_environment(database_url, workdir, provider_url, SHUTDOWN_GRACE_SECONDS="60")
    async with server_process(environ, workdir) as server, httpx.AsyncClient(base_url=server.url) as http:
        api = GraphQLClient(http)
        alice = await api.signup("alice")
        run_id = (await api.execute(START_RUN, {"input": STORY}, token=alice.access_token)).ok()["startRun"]["id"]
        following = await followed(server, alice, run_id)

        server.terminate()

        async def shutting_down() -> bool:
            return (await http.get("/health/ready")).status_code == 503

        await wait_until(shutting_down, what="the server to take SIGTERM")
        refused = await api.execute(START_RUN, {"input": STORY}, token=alice.access_token)
        ready = await http.get("/health/ready")
        live = await http.get("/health/live")
        events = await asyncio.wait_for(following, timeout=60)
        # Asked of the database: the server may be gone already, its last run having ended.
        assert server.process is not None
        await asyncio.wait_for(server.process.wait(), timeout=30)
    status = await stored_status(engine, run_id)

    assert refused.errors and refused.errors[0]["extensions"]["code"] == "SHUTTING_DOWN"
    assert ready.status_code == 503 and "shutting down" in ready.json()["problems"][0]
    assert live.status_code == 200
    assert events[-1]["__typename"] == "RunCompleted"
    assert status == "completed"


async def test_sigterm_cancels_the_runs_still_going_after_the_grace_period(
    engine: AsyncEngine, database_url: str, workdir: Path, provider_url: str, fake_providers: FakeProviderState
) -> None:
    fake_providers.persistent = SlowChunks(seconds=1.0)
    environ = server_environment(database_url, workdir, provider_url, SHUTDOWN_GRACE_SECONDS="1")
    async with server_process(environ, workdir) as server, httpx.AsyncClient(base_url=server.url) as http:
        api = GraphQLClient(http)
        alice = await api.signup("alice")
        run_id = (await api.execute(START_RUN, {"input": STORY}, token=alice.access_token)).ok()["startRun"]["id"]
        following = await followed(server, alice, run_id)

        server.terminate()
        events = await asyncio.wait_for(following, timeout=30)
        assert server.process is not None
        await asyncio.wait_for(server.process.wait(), timeout=30)
        await server.start()  # a new process reads what the old one stored
        run = (await api.execute(RUN, {"id": run_id}, token=alice.access_token)).ok()["run"]

    assert events[-1]["__typename"] == "RunCancelled"
    assert [event["seq"] for event in events] == list(range(1, len(events) + 1))
    assert run["status"] == "CANCELLED"
    assert {result["status"] for result in run["nodeResults"]} <= {"COMPLETED", "CANCELLED", "SKIPPED"}


async def test_log_format_json_writes_one_json_object_a_line(
    engine: AsyncEngine, database_url: str, workdir: Path, provider_url: str
) -> None:
    environ = server_environment(database_url, workdir, provider_url, LOG_FORMAT="json")
    async with server_process(environ, workdir, log_level="info") as server:
        server.terminate()
        assert server.process is not None
        await asyncio.wait_for(server.process.wait(), timeout=30)

    lines = [line for line in server.stderr_file.read_text().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]
    assert records and all({"time", "level", "logger", "message"} <= set(record) for record in records)
    assert any("SIGTERM" in record["message"] for record in records)
