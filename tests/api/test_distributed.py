"""Distributed mode: several server processes on one PostgreSQL database and one Redis.

Real `main.py serve` processes on loopback, the local PostgreSQL and Redis, a fresh Redis key
prefix per test. A run started through one process is followed, resumed and cancelled through
the others; a process killed mid-run has its runs finished by another for every follower (the
run queue's own tests, with `worker` processes, are in test_run_queue.py).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.api.processes import execute, follow, processes, running_pid, sign_up
from tests.api.run_client import (
    CANCEL_RUN,
    RUN_EVENTS_AFTER,
    RUN_FLOW,
    START_RUN,
    STORY,
    TERMINAL_NODE_STATUSES,
    assert_log_holds,
    collect,
    node_statuses,
    receive_events,
    stored_log,
)
from tests.fakes.providers import FakeProviderState, SlowChunks
from tests.graphql_client import GraphQLClient, graphql_ws, until_subscribed
from tests.server_process import free_port
from tests.waiting import wait_until

pytestmark = pytest.mark.postgresql_only

async def test_a_run_started_on_one_process_is_followed_on_another_with_identical_events(
    cluster_environment: dict[str, str], workdir: Path, fake_providers: FakeProviderState
) -> None:
    fake_providers.persistent = SlowChunks(seconds=0.01)
    async with processes(cluster_environment, workdir, 2) as (first, second):
        alice = await sign_up(first, "alice")
        async with graphql_ws(first.url, payload={"token": alice.access_token}) as connection:
            operation = await connection.subscribe(RUN_FLOW, {"input": STORY})
            started = await receive_events(connection, 1)
            following = asyncio.create_task(follow(second, alice, started[0]["runId"]))
            live = started + await collect(connection, operation)
        followed = await following

    assert live[-1]["__typename"] == "RunCompleted"
    assert followed == live


async def test_a_follower_dropped_mid_run_resumes_on_a_third_process_with_nothing_lost_or_doubled(
    cluster_environment: dict[str, str],
    workdir: Path,
    fake_providers: FakeProviderState,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    fake_providers.persistent = SlowChunks(seconds=0.02)
    async with processes(cluster_environment, workdir, 3) as (first, second, third):
        alice = await sign_up(first, "alice")
        run_id = (await execute(first, START_RUN, {"input": STORY}, alice))["startRun"]["id"]
        async with graphql_ws(second.url, payload={"token": alice.access_token}) as connection:
            await connection.subscribe(RUN_EVENTS_AFTER, {"runId": run_id, "afterSeq": 0})
            before_the_drop = await receive_events(connection, 12)
        resumed = await follow(third, alice, run_id, after_seq=before_the_drop[-1]["seq"])

    seen = before_the_drop + resumed
    assert seen[-1]["__typename"] == "RunCompleted"
    stored = await stored_log(session_factory, run_id)
    assert_log_holds(seen, stored)
    assert len(seen) == len(stored)


async def test_cancel_on_a_process_that_does_not_own_the_run_stops_it(
    cluster_environment: dict[str, str],
    workdir: Path,
    fake_providers: FakeProviderState,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    fake_providers.persistent = SlowChunks(seconds=0.5)
    async with processes(cluster_environment, workdir, 2) as (owner, other):
        alice = await sign_up(owner, "alice")
        run_id = (await execute(owner, START_RUN, {"input": STORY}, alice))["startRun"]["id"]
        await wait_until(lambda: fake_providers.requests, what="a provider call in flight")
        cancelled = await asyncio.wait_for(execute(other, CANCEL_RUN, {"id": run_id}, alice), timeout=15)
        seen = await follow(other, alice, run_id)

    assert cancelled["cancelRun"]["status"] == "CANCELLED"
    assert seen[-1]["__typename"] == "RunCancelled"
    assert_log_holds(seen, await stored_log(session_factory, run_id))


async def test_the_run_of_a_killed_server_process_is_finished_by_another_for_every_follower(
    cluster_environment: dict[str, str],
    workdir: Path,
    fake_providers: FakeProviderState,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    fake_providers.persistent = SlowChunks(seconds=0.05)
    async with processes(cluster_environment, workdir, 2) as servers:
        alice = await sign_up(servers[0], "alice")
        run_id = (await execute(servers[0], START_RUN, {"input": STORY}, alice))["startRun"]["id"]
        owner_pid = await running_pid(session_factory, run_id)
        owner = next(server for server in servers if server.pid == owner_pid)
        survivor = next(server for server in servers if server is not owner)
        async with graphql_ws(survivor.url, payload={"token": alice.access_token}) as connection:
            operation = await connection.subscribe(RUN_EVENTS_AFTER, {"runId": run_id, "afterSeq": 0})
            seen = await receive_events(connection, 8)
            owner.kill()
            seen += await collect(connection, operation)
        async with httpx.AsyncClient(base_url=survivor.url) as http:
            run = await node_statuses(GraphQLClient(http), alice, run_id)

    assert seen[-1]["__typename"] == "RunCompleted"
    assert_log_holds(seen, await stored_log(session_factory, run_id))
    assert run["status"] == "COMPLETED" and run["nodes"] <= TERMINAL_NODE_STATUSES


@contextlib.asynccontextmanager
async def private_redis(port: int) -> AsyncIterator[asyncio.subprocess.Process]:
    """A Redis of this test's own (the machine's is shared), started again by `restart_redis`."""
    process = await _start_redis(port)
    try:
        yield process
    finally:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()


async def _start_redis(port: int) -> asyncio.subprocess.Process:
    process = await asyncio.create_subprocess_exec(
        "redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
        stdout=asyncio.subprocess.DEVNULL,
    )
    redis = Redis(port=port)

    async def answering() -> bool:
        with contextlib.suppress(Exception):
            return bool(await redis.ping())
        return False

    try:
        await wait_until(answering, what=f"redis-server on port {port}")
    finally:
        await redis.aclose()
    return process


async def test_redis_restarted_mid_run_loses_no_event_and_live_delivery_recovers(
    cluster_environment: dict[str, str],
    workdir: Path,
    fake_providers: FakeProviderState,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    fake_providers.persistent = SlowChunks(seconds=0.1)
    port = free_port()
    environment = {**cluster_environment, "REDIS_URL": f"redis://127.0.0.1:{port}/0"}
    async with private_redis(port) as redis_process, processes(environment, workdir, 2) as (owner, follower):
        alice = await sign_up(owner, "alice")
        run_id = (await execute(owner, START_RUN, {"input": STORY}, alice))["startRun"]["id"]
        async with graphql_ws(follower.url, payload={"token": alice.access_token}) as connection:
            operation = await connection.subscribe(RUN_EVENTS_AFTER, {"runId": run_id, "afterSeq": 0})
            seen = await receive_events(connection, 10)
            redis_process.kill()
            await redis_process.wait()

            async def stored_while_down() -> bool:
                return len(await stored_log(session_factory, run_id)) > len(seen) + 3

            await wait_until(stored_while_down, what="the run to go on storing events while Redis is down")
            async with private_redis(port):
                seen += await collect(connection, operation)
                after_restart = await follow(follower, alice, run_id, after_seq=0)

    assert seen[-1]["__typename"] == "RunCompleted"
    stored = await stored_log(session_factory, run_id)
    assert_log_holds(seen, stored)
    assert len(seen) == len(stored) and after_restart == seen


async def test_notifications_reach_subscribers_on_every_process(
    cluster_environment: dict[str, str], workdir: Path
) -> None:
    async with processes(cluster_environment, workdir, 2) as (first, second):
        alice = await sign_up(first, "alice")
        async with graphql_ws(second.url, payload={"token": alice.access_token}) as connection:
            operation = await connection.subscribe("subscription { notifications { eventName payload } }", {})
            async with httpx.AsyncClient(base_url=first.url) as http:
                await until_subscribed(connection, GraphQLClient(http), alice)  # probes made on the other process
            await execute(first, 'mutation { createProject(input: {name: "Shared"}) { id } }', {}, alice)
            message = await asyncio.wait_for(connection.receive(), timeout=10)

    assert message["id"] == operation
    notification = message["payload"]["data"]["notifications"]
    assert notification["eventName"] == "project.created"
    assert notification["payload"]["name"] == "Shared"
