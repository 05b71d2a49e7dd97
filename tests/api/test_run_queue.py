"""Distributed mode's run queue: an API process (`serve --no-worker`) and `worker` processes.

Real processes on loopback, the local PostgreSQL and Redis. Runs started through the API are
executed by whichever worker claims them; a worker that dies has its runs resumed by another
from their completed nodes; a worker frozen past its heartbeat cannot write once it wakes.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import Run
from tests.api.processes import execute, follow, running_pid, sign_up
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
    stored_log,
)
from tests.fakes.providers import FakeProviderState, SlowChunks
from tests.graphql_client import Account, GraphQLClient, Subscription, graphql_ws
from tests.server_process import ServerProcess, WorkerProcess
from tests.waiting import wait_until

pytestmark = pytest.mark.postgresql_only


@dataclass
class Processes:
    api: ServerProcess
    workers: list[WorkerProcess]

    def worker_with_pid(self, pid: int) -> WorkerProcess:
        return next(worker for worker in self.workers if worker.pid == pid)


def short_reply(messages: list[Any]) -> str:
    """Ten words: a run of the story flow is a few dozen events, not hundreds."""
    return "one two three four five six seven eight nine ten"


@pytest.fixture(autouse=True)
def short_replies(fake_providers: FakeProviderState) -> None:
    fake_providers.reply = short_reply


@pytest.fixture
def queue_environment(cluster_environment: dict[str, str]) -> dict[str, str]:
    # Dead after 3 s without a heartbeat (beating every 0.6 s), looked for every second.
    return {**cluster_environment, "WORKER_DEAD_AFTER_SECONDS": "3", "STALLED_RUN_CHECK_SECONDS": "1"}


@contextlib.asynccontextmanager
async def cluster(environ: dict[str, str], workdir: Path, *, workers: int) -> AsyncIterator[Processes]:
    api = ServerProcess(environ, workdir, options=["--no-worker"], name="api")
    members = [WorkerProcess(environ, workdir, name=f"worker-{number}") for number in range(workers)]
    processes: list[ServerProcess] = [api, *members]
    try:
        await asyncio.gather(*(process.start() for process in processes))
        yield Processes(api, members)
    finally:
        for process in members:
            with contextlib.suppress(ProcessLookupError):
                process.thaw()
        await asyncio.gather(*(process.stop() for process in processes))


async def run_row(session_factory: async_sessionmaker[AsyncSession], run_id: str) -> Run:
    async with session_factory() as session:
        run = (await session.scalars(select(Run).where(Run.id == uuid.UUID(run_id)))).one()
        await session.commit()
    return run


async def events_until(
    connection: Subscription, done: Callable[[list[dict[str, Any]]], bool]
) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    while not done(events):
        message = await asyncio.wait_for(connection.receive(), timeout=30)
        assert message["type"] == "next", message
        events.append(next(iter(message["payload"]["data"].values())))
    return events


def provider_node_completed(events: list[dict[str, Any]]) -> bool:
    """A node that streamed text has completed (and the run goes on)."""
    streamed = {event["nodeId"] for event in events if event["__typename"] == "NodeOutputDelta"}
    return any(event["__typename"] == "NodeCompleted" and event["nodeId"] in streamed for event in events)


@dataclass
class FollowedRun:
    """A story run started through the API, followed there from its first event."""

    run_id: str
    connection: Subscription
    operation: str
    seen: list[dict[str, Any]]

    async def to_the_end(self) -> list[dict[str, Any]]:
        self.seen += await collect(self.connection, self.operation)
        return self.seen


@contextlib.asynccontextmanager
async def story_followed_mid_run(processes: Processes, account: Account) -> AsyncIterator[FollowedRun]:
    """Yields once a node that streamed text has completed, with the rest of the run to come."""
    run_id = (await execute(processes.api, START_RUN, {"input": STORY}, account))["startRun"]["id"]
    async with graphql_ws(processes.api.url, payload={"token": account.access_token}) as connection:
        operation = await connection.subscribe(RUN_EVENTS_AFTER, {"runId": run_id, "afterSeq": 0})
        yield FollowedRun(run_id, connection, operation, await events_until(connection, provider_node_completed))


def ran_again_after_completing(events: list[dict[str, Any]]) -> set[str]:
    completed: set[str] = set()
    again = set()
    for event in events:
        if event["__typename"] == "NodeCompleted":
            completed.add(event["nodeId"])
        elif event["__typename"] == "NodeStatusChanged" and event["status"] == "RUNNING" and event["nodeId"] in completed:
            again.add(event["nodeId"])
    return again


async def test_a_worker_killed_mid_run_has_the_run_resumed_by_another_without_rerunning_completed_nodes(
    queue_environment: dict[str, str],
    workdir: Path,
    fake_providers: FakeProviderState,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    fake_providers.persistent = SlowChunks(seconds=0.03)
    async with cluster(queue_environment, workdir, workers=2) as processes:
        alice = await sign_up(processes.api, "alice")
        async with story_followed_mid_run(processes, alice) as followed:
            run_id = followed.run_id
            first_owner = processes.worker_with_pid(await running_pid(session_factory, run_id))
            first_owner.kill()
            seen = await followed.to_the_end()
        survivor = next(worker for worker in processes.workers if worker is not first_owner)
        run = await run_row(session_factory, run_id)
        async with httpx.AsyncClient(base_url=processes.api.url) as http:
            results = await node_statuses(GraphQLClient(http), alice, run_id)

    assert seen[-1]["__typename"] == "RunCompleted"
    stored = await stored_log(session_factory, run_id)
    assert_log_holds(seen, stored)
    assert len(seen) == len(stored)
    assert run.attempt == 2 and run.worker_id is not None and f":{survivor.pid}:" in run.worker_id
    assert ran_again_after_completing(seen) == set()
    assert "CACHED" in {event.get("status") for event in seen}
    assert [event["__typename"] for event in seen].count("RunStarted") == 1
    assert results["status"] == "COMPLETED" and results["nodes"] <= TERMINAL_NODE_STATUSES


async def test_a_worker_frozen_past_its_heartbeat_cannot_write_once_thawed(
    queue_environment: dict[str, str],
    workdir: Path,
    fake_providers: FakeProviderState,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    fake_providers.persistent = SlowChunks(seconds=0.03)
    async with cluster(queue_environment, workdir, workers=2) as processes:
        alice = await sign_up(processes.api, "alice")
        async with story_followed_mid_run(processes, alice) as followed:
            run_id = followed.run_id
            frozen = processes.worker_with_pid(await running_pid(session_factory, run_id))
            frozen.freeze()
            await running_pid(session_factory, run_id, attempt=2)  # taken over meanwhile
            frozen.thaw()
            seen = await followed.to_the_end()
        taken_over = "run taken over by another worker; this attempt stops"
        await wait_until(lambda: taken_over in frozen.log(), what="the thawed worker to try to write")

    assert seen[-1]["__typename"] == "RunCompleted"
    stored = await stored_log(session_factory, run_id)
    assert_log_holds(seen, stored)
    assert len(seen) == len(stored)


async def test_two_hundred_runs_over_three_workers_are_each_executed_exactly_once(
    queue_environment: dict[str, str],
    workdir: Path,
    fake_providers: FakeProviderState,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    one_call = _prompt_then_enhance("a harbour at dawn")
    environment = {**queue_environment, "MAX_RUNS_PER_USER": "200"}
    async with cluster(environment, workdir, workers=3) as processes:
        alice = await sign_up(processes.api, "alice")
        async with httpx.AsyncClient(base_url=processes.api.url, timeout=60) as http:
            api = GraphQLClient(http)
            started = await asyncio.gather(
                *(
                    api.execute(START_RUN, {"input": {"graph": one_call, "providerId": "mistral"}}, token=alice.access_token)
                    for _ in range(200)
                )
            )
        run_ids = [result.ok()["startRun"]["id"] for result in started]
        following = asyncio.Semaphore(20)  # the test's own client load stays modest

        async def log_of(run_id: str) -> list[dict[str, Any]]:
            async with following:
                return await follow(processes.api, alice, run_id)

        logs = await asyncio.gather(*(log_of(run_id) for run_id in run_ids))
        runs = [await run_row(session_factory, run_id) for run_id in run_ids]

    assert all(log[-1]["__typename"] == "RunCompleted" for log in logs)
    assert all([event["__typename"] for event in log].count("RunStarted") == 1 for log in logs)
    assert all(run.attempt == 1 for run in runs)
    assert len(fake_providers.requests) == 200
    owners = Counter((run.worker_id or "").split(":")[1] for run in runs)
    assert set(owners) <= {str(worker.pid) for worker in processes.workers}
    assert sum(owners.values()) == 200


async def test_a_stalled_run_ends_as_interrupted_when_runs_of_dead_workers_are_not_resumed(
    queue_environment: dict[str, str],
    workdir: Path,
    fake_providers: FakeProviderState,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    fake_providers.persistent = SlowChunks(seconds=0.03)
    environment = {**queue_environment, "STALLED_RUNS": "interrupt"}
    async with cluster(environment, workdir, workers=2) as processes:
        alice = await sign_up(processes.api, "alice")
        async with story_followed_mid_run(processes, alice) as followed:
            run_id = followed.run_id
            processes.worker_with_pid(await running_pid(session_factory, run_id)).kill()
            seen = await followed.to_the_end()
        async with httpx.AsyncClient(base_url=processes.api.url) as http:
            results = await node_statuses(GraphQLClient(http), alice, run_id)

    assert seen[-1]["__typename"] == "RunFailed" and "server stopped" in seen[-1]["error"]
    assert_log_holds(seen, await stored_log(session_factory, run_id))
    assert results["status"] == "INTERRUPTED" and results["nodes"] <= TERMINAL_NODE_STATUSES


async def test_a_queued_run_no_worker_has_claimed_is_cancelled_at_once(
    queue_environment: dict[str, str], workdir: Path, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    async with cluster(queue_environment, workdir, workers=0) as processes:
        alice = await sign_up(processes.api, "alice")
        run_id = (await execute(processes.api, START_RUN, {"input": STORY}, alice))["startRun"]["id"]
        cancelled = await execute(processes.api, CANCEL_RUN, {"id": run_id}, alice)
        seen = await follow(processes.api, alice, run_id)

    assert cancelled["cancelRun"]["status"] == "CANCELLED"
    assert [event["__typename"] for event in seen] == ["RunCancelled"]
    assert_log_holds(seen, await stored_log(session_factory, run_id))


async def test_closing_run_flow_on_the_api_process_cancels_the_run_on_its_worker(
    queue_environment: dict[str, str],
    workdir: Path,
    fake_providers: FakeProviderState,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    fake_providers.persistent = SlowChunks(seconds=0.5)
    async with cluster(queue_environment, workdir, workers=1) as processes:
        alice = await sign_up(processes.api, "alice")
        async with graphql_ws(processes.api.url, payload={"token": alice.access_token}) as connection:
            await connection.subscribe(RUN_FLOW, {"input": STORY})
            seen = await events_until(connection, lambda events: any(e["__typename"] == "NodeOutputDelta" for e in events))
        run_id = seen[0]["runId"]
        rest = await follow(processes.api, alice, run_id, after_seq=seen[-1]["seq"])

    assert rest[-1]["__typename"] == "RunCancelled"
    assert_log_holds(seen + rest, await stored_log(session_factory, run_id))


def _prompt_then_enhance(text: str) -> dict[str, Any]:
    """Two nodes, one provider call."""
    return {
        "nodes": [
            {"id": "idea", "type": "initialPrompt", "position": {"x": 0, "y": 0}, "data": {"text": text}},
            {"id": "enhance", "type": "promptEnhancer", "position": {"x": 200, "y": 0}, "data": {}},
        ],
        "edges": [
            {"id": "e1", "source": "idea", "target": "enhance", "sourceHandle": "text", "targetHandle": "text"}
        ],
        "viewport": {"x": 0, "y": 0, "zoom": 1},
    }
