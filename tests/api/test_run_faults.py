"""A run's log under faults and hostile timing (ARCHITECTURE.md, "The run path").

Whatever happens, every event a client received is stored; the stored log is numbered 1, 2, 3...
without a gap and ends in exactly one terminal event, numbered after every event a client saw;
every node result of a finished run is terminal. Each test counts the events on both sides.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.applications import Starlette

from services.accounts.auth import authenticate
from services.platform.settings import Settings
from services.runs.manager import RunInput
from tests.api.database_faults import database_down, terminate_connections
from tests.api.run_client import (
    CANCEL_RUN,
    FINAL,
    RUN_EVENTS,
    RUN_EVENTS_AFTER,
    RUN_FLOW,
    START_RUN,
    STORY,
    TERMINAL_NODE_STATUSES,
    assert_log_holds,
    collect,
    example,
    node_statuses,
    receive_events,
    run_over_websocket,
    stored_log,
)
from tests.api_fixtures import TEST_SECRET_KEY, provider_environment, provider_settings
from tests.fakes.providers import Delay, Drop, FakeProviderState, HttpError, SlowChunks
from tests.fakes.server import serve_app
from tests.graphql_client import GraphQLClient, graphql_ws
from tests.server_process import server_process
from tests.waiting import stall, wait_until
from web.app import create_app


@pytest.fixture
def settings(database_url: str, workdir: Path, provider_url: str) -> Settings:
    return provider_settings(database_url, workdir, provider_url, RUN_STORAGE_TIMEOUT_SECONDS="2")


# --- a process killed mid-run ------------------------------------------------------------------


async def test_a_server_killed_mid_run_keeps_every_event_its_client_saw_and_ends_the_log_after_them(
    database_url: str,
    workdir: Path,
    provider_url: str,
    fake_providers: FakeProviderState,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    fake_providers.persistent = SlowChunks(seconds=0.05)
    environ = {
        "DATABASE_URL": database_url,
        "AUTH_SECRET_KEY": TEST_SECRET_KEY,
        "BCRYPT_ROUNDS": "4",
        "MEDIA_DIR": str(workdir / "media"),
        **provider_environment(provider_url),
    }
    async with server_process(environ, workdir) as server:
        async with httpx.AsyncClient(base_url=server.url) as http:
            alice = await GraphQLClient(http).signup("alice")
        with contextlib.suppress(websockets.ConnectionClosed):
            async with graphql_ws(server.url, payload={"token": alice.access_token}) as connection:
                await connection.subscribe(RUN_FLOW, {"input": STORY})
                seen = await receive_events(connection, 20)
                server.kill()
                with contextlib.suppress(TimeoutError):
                    while True:  # whatever was on its way before the kill
                        seen += await asyncio.wait_for(receive_events(connection, 1), timeout=2)
        await server.stop()
        run_id = seen[0]["runId"]
        assert seen[-1]["__typename"] not in {"RunCompleted", "RunFailed", "RunCancelled"}

        await server.start()
        async with graphql_ws(server.url, payload={"token": alice.access_token}) as connection:
            operation = await connection.subscribe(RUN_EVENTS_AFTER, {"runId": run_id, "afterSeq": seen[-1]["seq"]})
            resumed = await collect(connection, operation)
        async with httpx.AsyncClient(base_url=server.url) as http:
            run = await node_statuses(GraphQLClient(http), alice, run_id)

    assert resumed[-1]["__typename"] == "RunFailed" and "server stopped" in resumed[-1]["error"]
    assert_log_holds(seen + resumed, await stored_log(session_factory, run_id))
    assert run["status"] == "INTERRUPTED" and run["nodes"] <= TERMINAL_NODE_STATUSES


# --- the database dropping connections, or staying down ---------------------------------------


@pytest.mark.postgresql_only
async def test_database_connections_dropped_mid_run_lose_no_event(
    live_server: str,
    live_api: GraphQLClient,
    fake_providers: FakeProviderState,
    database_url: str,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    fake_providers.persistent = SlowChunks(seconds=0.02)
    alice = await live_api.signup("alice")
    seen: list[dict[str, Any]] = []
    drops = 0
    async with graphql_ws(live_server, payload={"token": alice.access_token}) as connection:
        operation = await connection.subscribe(RUN_FLOW, {"input": STORY})
        while not seen or seen[-1]["__typename"] not in FINAL:
            seen += await receive_events(connection, 1)
            if len(seen) % 4 == 0 and drops < 6:  # six times mid-run, as the run goes on
                await terminate_connections(database_url)
                drops += 1
        assert (await connection.receive()) == {"id": operation, "type": "complete"}

    assert drops == 6
    assert seen[-1]["__typename"] == "RunCompleted"
    stored = await stored_log(session_factory, seen[0]["runId"])
    assert_log_holds(seen, stored)
    assert len(stored) == len(seen)
    run = await node_statuses(live_api, alice, seen[0]["runId"])
    assert run == {"status": "COMPLETED", "nodes": {"COMPLETED"}}


@pytest.mark.postgresql_only
async def test_a_database_that_stays_down_ends_the_run_for_its_followers_and_later_in_storage(
    live_server: str,
    live_api: GraphQLClient,
    fake_providers: FakeProviderState,
    database_url: str,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    fake_providers.persistent = SlowChunks(seconds=0.05)
    alice = await live_api.signup("alice")
    async with graphql_ws(live_server, payload={"token": alice.access_token}) as connection:
        operation = await connection.subscribe(RUN_FLOW, {"input": STORY})
        seen = await receive_events(connection, 5)
        async with database_down(database_url):
            seen += await collect(connection, operation)

    final = seen[-1]
    assert final["__typename"] == "RunFailed" and "database" in final["error"]
    assert [event["seq"] for event in seen] == list(range(1, len(seen) + 1))
    # Back up: the same end reaches storage, after exactly the events the follower saw.

    async def stored_to_its_end() -> list[tuple[int, str]] | None:
        stored = await stored_log(session_factory, final["runId"])
        return stored if stored and stored[-1][1] in FINAL else None

    stored = await wait_until(stored_to_its_end, timeout=30, what="the run's end to reach storage")
    assert_log_holds(seen, stored)
    assert len(stored) == len(seen)
    run = await node_statuses(live_api, alice, final["runId"])
    assert run["status"] == "FAILED" and run["nodes"] <= TERMINAL_NODE_STATUSES


@pytest.mark.postgresql_only
async def test_a_run_started_while_the_database_is_down_is_refused_as_unavailable_and_not_counted(
    database_url: str, workdir: Path, provider_url: str, engine: AsyncEngine
) -> None:
    # Were the refusal to wait for the run storage timeout (an hour here), the client's would end the test.
    settings = provider_settings(database_url, workdir, provider_url, MAX_RUNS_PER_USER="1", RUN_STORAGE_TIMEOUT_SECONDS="3600")
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver", timeout=60) as http:
            api = GraphQLClient(http)
            alice = await api.signup("alice")
            async with database_down(database_url):
                refused = await api.execute(START_RUN, {"input": STORY}, token=alice.access_token)
            # The refused run took no room: the one run the limit allows starts.
            started = await api.execute(START_RUN, {"input": STORY}, token=alice.access_token)
            count = (await api.execute("{ runs { totalCount } }", token=alice.access_token)).ok()

    assert refused.error_code == "UNAVAILABLE"
    assert started.ok()["startRun"]["status"] == "RUNNING"
    assert count == {"runs": {"totalCount": 1}}


# --- a provider that fails, drops or hangs ---------------------------------------------------


async def test_a_provider_that_errs_refuses_then_drops_mid_stream_fails_its_node_and_ends_the_log(
    live_server: str,
    live_api: GraphQLClient,
    fake_providers: FakeProviderState,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    # The first call (the prompt that weaves persona and scene) gets 500, then 429, then a
    # stream that breaks after its first text (a failure retrying cannot undo).
    fake_providers.fail_next(HttpError(500), HttpError(429, retry_after="0"), Drop(after_chunks=3))
    alice = await live_api.signup("alice")
    seen = await run_over_websocket(live_server, alice, STORY)

    assert [event["nodeId"] for event in seen if event["__typename"] == "NodeFailed"] == ["idea"]
    assert seen[-1]["__typename"] == "RunFailed"
    assert_log_holds(seen, await stored_log(session_factory, seen[0]["runId"]))
    run = await node_statuses(live_api, alice, seen[0]["runId"])
    assert run["status"] == "FAILED" and run["nodes"] == {"COMPLETED", "FAILED", "SKIPPED"}


async def test_cancelling_a_run_whose_provider_hangs_ends_it_at_once(
    live_server: str,
    live_api: GraphQLClient,
    fake_providers: FakeProviderState,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    fake_providers.persistent = Delay(seconds=60)
    alice = await live_api.signup("alice")
    async with graphql_ws(live_server, payload={"token": alice.access_token}) as connection:
        operation = await connection.subscribe(RUN_FLOW, {"input": STORY})
        seen = await receive_events(connection, 3)
        await wait_until(lambda: fake_providers.requests, what="a provider call in flight")
        cancelled = await asyncio.wait_for(
            live_api.execute(CANCEL_RUN, {"id": seen[0]["runId"]}, token=alice.access_token), timeout=5
        )
        seen += await collect(connection, operation)

    assert cancelled.ok()["cancelRun"]["status"] == "CANCELLED"
    assert seen[-1]["__typename"] == "RunCancelled"
    assert_log_holds(seen, await stored_log(session_factory, seen[0]["runId"]))
    run = await node_statuses(live_api, alice, seen[0]["runId"])
    assert run["nodes"] <= TERMINAL_NODE_STATUSES


# --- text the database or the socket could not carry -------------------------------------------


async def test_provider_text_with_nul_bytes_and_lone_surrogates_is_stored_and_shown_alike(
    live_server: str,
    live_api: GraphQLClient,
    fake_providers: FakeProviderState,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    fake_providers.reply = lambda messages: "odd \ud800 text \x00 here"
    alice = await live_api.signup("alice")
    seen = await run_over_websocket(live_server, alice, STORY)

    assert seen[-1]["__typename"] == "RunCompleted"
    assert_log_holds(seen, await stored_log(session_factory, seen[0]["runId"]))
    texts = [output["text"] for output in seen[-1]["outputs"].values() if "text" in output]
    assert "odd \ufffd text \ufffd here" in texts


async def test_a_lone_surrogate_in_a_graph_is_refused_naming_the_field(live_api: GraphQLClient) -> None:
    alice = await live_api.signup("alice")
    graph = example("story-flow.json")
    graph["nodes"][2]["data"]["text"] = "\ud800"
    body = json.dumps({"query": START_RUN, "variables": {"input": {"graph": graph}}})  # \ud800 escaped
    response = await live_api.http.post(
        "/graphql",
        content=body,
        headers={"Authorization": f"Bearer {alice.access_token}", "Content-Type": "application/json"},
    )
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["field"] == "input.graph.nodes[2].data.text"
    assert (await live_api.execute("{ runs { totalCount } }", token=alice.access_token)).ok()["runs"]["totalCount"] == 0


# --- timing a client controls ----------------------------------------------------------------


async def test_closing_run_flow_right_after_subscribing_leaves_no_run_running(
    live_server: str, live_api: GraphQLClient, fake_providers: FakeProviderState
) -> None:
    fake_providers.persistent = SlowChunks(seconds=0.05)
    alice = await live_api.signup("alice")
    async with graphql_ws(live_server, payload={"token": alice.access_token}) as connection:
        for milliseconds in range(0, 40, 3):  # across the moment the run is being stored
            operation = await connection.subscribe(RUN_FLOW, {"input": STORY})
            await stall(milliseconds / 1000)
            await connection.send({"id": operation, "type": "complete"})

    async def statuses_once_none_runs() -> set[str] | None:
        runs = (await live_api.execute("{ runs(first: 20) { nodes { status } } }", token=alice.access_token)).ok()
        statuses = {run["status"] for run in runs["runs"]["nodes"]}
        return statuses if statuses and "RUNNING" not in statuses else None

    assert await wait_until(statuses_once_none_runs, what="every run to end") == {"CANCELLED"}


async def test_a_follower_reading_one_event_a_second_slows_neither_the_run_nor_other_followers(
    app: Starlette, api: GraphQLClient
) -> None:
    alice = await api.signup("alice")
    backend = app.state.backend
    actor = await authenticate(backend.session_factory, backend.auth, alice.access_token)
    slow_follower = backend.runs.stream(actor, RunInput(graph=example("story-flow.json"), provider_id="mistral"))
    slow: list[Any] = [await anext(slow_follower)]

    async def read_one_a_second() -> None:
        async for event in slow_follower:
            slow.append(event)
            await stall(1)

    reading = asyncio.create_task(read_one_a_second())
    async with serve_app(app) as live_server, graphql_ws(live_server, payload={"token": alice.access_token}) as connection:
        operation = await connection.subscribe(RUN_EVENTS, {"runId": slow[0].run_id})
        fast = await collect(connection, operation)
    read_by_slow_follower = len(slow)
    run = await node_statuses(api, alice, slow[0].run_id)
    reading.cancel()
    await asyncio.gather(reading, return_exceptions=True)

    assert fast[-1]["__typename"] == "RunCompleted" and run["status"] == "COMPLETED"
    assert read_by_slow_follower <= 5 < len(fast)
    async for event in slow_follower:  # the rest, at once, from where it was
        slow.append(event)
    assert [event.seq for event in slow] == [event["seq"] for event in fast]


async def test_a_huge_run_does_not_hold_up_another_users_run_or_cancel_run(
    live_server: str, live_api: GraphQLClient
) -> None:
    alice = await live_api.signup("alice")
    bob = await live_api.signup("bob")
    started = await live_api.execute(START_RUN, {"input": {"graph": wide_graph(1_000, inputs_each=10)}}, token=alice.access_token)
    huge_run = started.ok()["startRun"]["id"]

    small = await asyncio.wait_for(
        run_over_websocket(live_server, bob, {"graph": one_node_graph()}), timeout=30
    )
    cancelled = await asyncio.wait_for(
        live_api.execute(CANCEL_RUN, {"id": huge_run}, token=alice.access_token), timeout=30
    )

    assert small[-1]["__typename"] == "RunCompleted"
    assert cancelled.ok()["cancelRun"]["status"] in {"CANCELLED", "COMPLETED"}


def wide_graph(width: int, *, inputs_each: int) -> dict[str, Any]:
    """`width` prompts and `width` outputs; each output reads `inputs_each` of the prompts."""
    prompts = [
        {"id": f"p{i}", "type": "initialPrompt", "position": {"x": 0, "y": i}, "data": {"text": f"prompt {i}"}}
        for i in range(width)
    ]
    outputs = [{"id": f"o{i}", "type": "textOutput", "position": {"x": 1, "y": i}, "data": {}} for i in range(width)]
    edges = [
        {"id": f"e{i}_{k}", "source": f"p{(i + k) % width}", "target": f"o{i}", "sourceHandle": "text", "targetHandle": "text"}
        for i in range(width)
        for k in range(inputs_each)
    ]
    return {"nodes": prompts + outputs, "edges": edges, "viewport": {"x": 0, "y": 0, "zoom": 1}}


def one_node_graph() -> dict[str, Any]:
    node = {"id": "hello", "type": "initialPrompt", "position": {"x": 0, "y": 0}, "data": {"text": "hello"}}
    return {"nodes": [node], "edges": [], "viewport": {"x": 0, "y": 0, "zoom": 1}}


async def test_runs_beyond_the_per_user_limit_are_refused_and_not_stored(
    database_url: str, workdir: Path, provider_url: str, fake_providers: FakeProviderState, engine: AsyncEngine
) -> None:
    fake_providers.persistent = SlowChunks(seconds=0.2)
    application = create_app(provider_settings(database_url, workdir, provider_url, MAX_RUNS_PER_USER="2"))
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            api = GraphQLClient(http)
            alice = await api.signup("alice")
            for _ in range(2):
                (await api.execute(START_RUN, {"input": STORY}, token=alice.access_token)).ok()
            refused = await api.execute(START_RUN, {"input": STORY}, token=alice.access_token)
            bob = await api.signup("bob")
            bobs = await api.execute(START_RUN, {"input": STORY}, token=bob.access_token)
            count = (await api.execute("{ runs { totalCount } }", token=alice.access_token)).ok()

    assert refused.error_code == "RATE_LIMITED" and "2 runs" in refused.errors[0]["message"]
    assert count == {"runs": {"totalCount": 2}}
    assert bobs.ok()["startRun"]["status"] == "RUNNING"
