"""Running flows over the API: runFlow, startRun, runEvents, cancelRun, runs, run (ARCHITECTURE.md, "The GraphQL API").

Providers are our fake OpenAI-compatible and Fireworks servers on 127.0.0.1, reached through
the real SDKs, exactly as a deployment reaches the real ones.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.base import utc_now
from services.platform.settings import Settings
from tests.api.run_client import (
    CANCEL_RUN,
    RUN,
    RUN_EVENTS,
    RUN_EVENTS_AFTER,
    RUN_FLOW,
    START_RUN,
    collect,
    create_flow,
    example,
    run_over_websocket,
)
from tests.api_fixtures import provider_settings
from tests.fakes.providers import FakeProviderState, SlowChunks
from tests.graphql_client import GraphQLClient, graphql_ws
from tests.waiting import wait_until


@pytest.fixture
def settings(database_url: str, workdir: Path, provider_url: str) -> Settings:
    return provider_settings(database_url, workdir, provider_url)


async def test_run_flow_streams_every_node_of_the_story_flow(
    live_server: str, live_api: GraphQLClient
) -> None:
    alice = await live_api.signup("alice")
    flow_id = await create_flow(live_api, alice, example("story-flow.json"))
    events = await run_over_websocket(live_server, alice, {"flowId": flow_id})

    assert [event["seq"] for event in events] == list(range(1, len(events) + 1))
    assert events[0]["__typename"] == "RunStarted" and events[0]["flowId"] == flow_id
    assert events[-1]["__typename"] == "RunCompleted"
    assert {event["runId"] for event in events} == {events[0]["runId"]}
    deltas = [event for event in events if event["__typename"] == "NodeOutputDelta"]
    completed = {event["nodeId"]: event["output"] for event in events if event["__typename"] == "NodeCompleted"}
    assert "memo" not in completed, "a note does not run"
    assert set(events[-1]["outputs"]) == set(completed)
    # Every node that calls a provider streams its text, and its output is that text.
    streaming = {delta["nodeId"] for delta in deltas}
    assert streaming == {"idea", "enhance", "french", "story", "polish"}
    for node_id in streaming:
        streamed = "".join(delta["delta"] for delta in deltas if delta["nodeId"] == node_id)
        assert completed[node_id]["text"] == streamed


async def test_a_finished_run_is_stored_with_its_node_results(live_server: str, live_api: GraphQLClient) -> None:
    alice = await live_api.signup("alice")
    events = await run_over_websocket(live_server, alice, {"graph": example("story-flow.json"), "providerId": "mistral"})
    run = (await live_api.execute(RUN, {"id": events[0]["runId"]}, token=alice.access_token)).ok()["run"]
    assert run["status"] == "COMPLETED"
    assert run["outputs"] == events[-1]["outputs"]
    statuses = {result["nodeId"]: result["status"] for result in run["nodeResults"]}
    assert set(statuses.values()) == {"COMPLETED"}


async def test_run_events_replays_a_finished_run_exactly(live_server: str, live_api: GraphQLClient) -> None:
    alice = await live_api.signup("alice")
    live = await run_over_websocket(live_server, alice, {"graph": example("story-flow.json"), "providerId": "mistral"})
    async with graphql_ws(live_server, payload={"token": alice.access_token}) as connection:
        operation = await connection.subscribe(RUN_EVENTS, {"runId": live[0]["runId"]})
        replayed = await collect(connection, operation)
    assert replayed == live


async def test_a_bad_graph_fails_the_run_with_one_event_naming_the_cycle(
    live_server: str, live_api: GraphQLClient
) -> None:
    alice = await live_api.signup("alice")
    events = await run_over_websocket(live_server, alice, {"graph": example("cycle-flow.json"), "providerId": "mistral"})
    assert len(events) == 1 and events[0]["__typename"] == "RunFailed"
    assert all(node in events[0]["error"] for node in ("a", "b", "c"))
    run = (await live_api.execute(RUN, {"id": events[0]["runId"]}, token=alice.access_token)).ok()["run"]
    assert run["status"] == "FAILED" and run["nodeResults"] == []


async def test_start_run_goes_on_in_the_background_and_run_events_follows_it(
    live_server: str, live_api: GraphQLClient, fake_providers: FakeProviderState
) -> None:
    alice = await live_api.signup("alice")
    fake_providers.fail_next(SlowChunks(seconds=0.05))
    started = (
        await live_api.execute(
            START_RUN, {"input": {"graph": example("story-flow.json"), "providerId": "mistral"}}, token=alice.access_token
        )
    ).ok()["startRun"]
    assert started["status"] == "RUNNING"
    async with graphql_ws(live_server, payload={"token": alice.access_token}) as connection:
        operation = await connection.subscribe(RUN_EVENTS, {"runId": started["id"]})
        events = await collect(connection, operation)
    assert [event["seq"] for event in events] == list(range(1, len(events) + 1))
    assert events[-1]["__typename"] == "RunCompleted"


async def test_cancel_run_stops_a_running_run(
    live_server: str, live_api: GraphQLClient, fake_providers: FakeProviderState
) -> None:
    alice = await live_api.signup("alice")
    fake_providers.fail_next(*[SlowChunks(seconds=1.0)] * 5)
    started = (
        await live_api.execute(
            START_RUN, {"input": {"graph": example("story-flow.json"), "providerId": "mistral"}}, token=alice.access_token
        )
    ).ok()["startRun"]
    await wait_until(lambda: fake_providers.requests, what="a provider call in flight")
    cancelled = (await live_api.execute(CANCEL_RUN, {"id": started["id"]}, token=alice.access_token)).ok()
    assert cancelled["cancelRun"]["status"] == "CANCELLED"
    run = (await live_api.execute(RUN, {"id": started["id"]}, token=alice.access_token)).ok()["run"]
    assert "CANCELLED" in {result["status"] for result in run["nodeResults"]}


async def test_closing_a_run_flow_subscription_cancels_its_run(
    live_server: str, live_api: GraphQLClient, fake_providers: FakeProviderState
) -> None:
    alice = await live_api.signup("alice")
    fake_providers.fail_next(*[SlowChunks(seconds=1.0)] * 5)
    async with graphql_ws(live_server, payload={"token": alice.access_token}) as connection:
        operation = await connection.subscribe(
            RUN_FLOW, {"input": {"graph": example("story-flow.json"), "providerId": "mistral"}}
        )
        first = await asyncio.wait_for(connection.receive(), timeout=10)
        run_id = first["payload"]["data"]["runFlow"]["runId"]
        await connection.send({"id": operation, "type": "complete"})

    async def ended() -> str | None:
        status = (await live_api.execute(RUN, {"id": run_id}, token=alice.access_token)).ok()["run"]["status"]
        return None if status == "RUNNING" else str(status)

    assert await wait_until(ended, what="the run to end") == "CANCELLED"


async def test_generated_images_are_stored_and_served(live_server: str, live_api: GraphQLClient) -> None:
    alice = await live_api.signup("alice")
    events = await run_over_websocket(live_server, alice, {"graph": example("image-flow.json"), "providerId": "mistral"})
    assert events[-1]["__typename"] == "RunCompleted", events[-1]
    images = [
        image
        for output in events[-1]["outputs"].values()
        for image in output.get("images", [])
    ]
    assert images
    async with httpx.AsyncClient(base_url=live_server) as http:
        response = await http.get(images[0]["url"])
    assert response.status_code == 200
    assert response.content


async def test_a_node_whose_provider_has_no_key_fails_naming_the_setting(
    live_server: str, live_api: GraphQLClient
) -> None:
    alice = await live_api.signup("alice")
    events = await run_over_websocket(live_server, alice, {"graph": example("story-flow.json"), "providerId": "glm"})
    failures = [event for event in events if event["__typename"] == "NodeFailed"]
    assert failures and all("GLM_API_KEY" in event["error"] for event in failures)
    assert events[-1]["__typename"] == "RunFailed"


async def test_providers_report_which_keys_are_set(api: GraphQLClient) -> None:
    providers = (await api.execute("{ providers { id available defaultModel } }")).ok()["providers"]
    available = {provider["id"]: provider["available"] for provider in providers}
    assert available["mistral"] and available["fireworks"]
    assert not available["claude"] and not available["glm"]


async def first_message(live_server: str, token: str | None, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    payload = {"token": token} if token else {}
    async with graphql_ws(live_server, payload=payload) as connection:
        await connection.subscribe(query, variables)
        return await asyncio.wait_for(connection.receive(), timeout=10)


def error_code(message: dict[str, Any]) -> str:
    errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
    return errors[0]["extensions"]["code"]


async def test_another_users_flow_cannot_be_run(live_server: str, live_api: GraphQLClient) -> None:
    alice = await live_api.signup("alice")
    bob = await live_api.signup("bob")
    flow_id = await create_flow(live_api, alice, example("story-flow.json"))
    message = await first_message(live_server, bob.access_token, RUN_FLOW, {"input": {"flowId": flow_id}})
    assert error_code(message) == "NOT_FOUND"
    started = await live_api.execute(START_RUN, {"input": {"flowId": flow_id}}, token=bob.access_token)
    assert started.error_code == "NOT_FOUND"
    runs = (await live_api.execute("{ runs { totalCount } }", token=alice.access_token)).ok()
    assert runs == {"runs": {"totalCount": 0}}


async def test_another_users_run_is_not_found(live_server: str, live_api: GraphQLClient) -> None:
    alice = await live_api.signup("alice")
    bob = await live_api.signup("bob")
    events = await run_over_websocket(live_server, alice, {"graph": example("story-flow.json"), "providerId": "mistral"})
    run_id = events[0]["runId"]
    assert (await live_api.execute(RUN, {"id": run_id}, token=bob.access_token)).error_code == "NOT_FOUND"
    assert (await live_api.execute(CANCEL_RUN, {"id": run_id}, token=bob.access_token)).error_code == "NOT_FOUND"
    assert error_code(await first_message(live_server, bob.access_token, RUN_EVENTS, {"runId": run_id})) == "NOT_FOUND"
    assert (await live_api.execute("{ runs { totalCount } }", token=bob.access_token)).ok()["runs"]["totalCount"] == 0


async def test_anonymous_callers_cannot_run_or_watch(live_server: str, live_api: GraphQLClient) -> None:
    alice = await live_api.signup("alice")
    events = await run_over_websocket(live_server, alice, {"graph": example("story-flow.json"), "providerId": "mistral"})
    graph_input = {"input": {"graph": example("story-flow.json")}}
    assert error_code(await first_message(live_server, None, RUN_FLOW, graph_input)) == "UNAUTHENTICATED"
    assert error_code(await first_message(live_server, None, RUN_EVENTS, {"runId": events[0]["runId"]})) == "UNAUTHENTICATED"
    run_id = {"id": events[0]["runId"]}
    for query, variables in ((START_RUN, graph_input), (CANCEL_RUN, run_id), (RUN, run_id)):
        assert (await live_api.execute(query, variables)).error_code == "UNAUTHENTICATED"


async def test_a_partial_run_reuses_stored_results_and_reruns_the_trigger_only(
    live_server: str, live_api: GraphQLClient, fake_providers: FakeProviderState
) -> None:
    alice = await live_api.signup("alice")
    graph = example("story-flow.json")
    await run_over_websocket(live_server, alice, {"graph": graph, "providerId": "mistral"})
    calls_before = len(fake_providers.requests)
    events = await run_over_websocket(
        live_server, alice, {"graph": graph, "providerId": "mistral", "triggerNodeId": "french"}
    )
    statuses = {(event["nodeId"], event["status"]) for event in events if event["__typename"] == "NodeStatusChanged"}
    assert ("enhance", "CACHED") in statuses and ("idea", "CACHED") in statuses
    assert ("french", "RUNNING") in statuses
    assert not any(node == "story" for node, _ in statuses), "nodes the trigger does not need do not run"
    assert len(fake_providers.requests) == calls_before + 1
    assert events[-1]["__typename"] == "RunCompleted"


async def test_a_partial_run_takes_the_clients_cached_outputs(
    live_server: str, live_api: GraphQLClient, fake_providers: FakeProviderState
) -> None:
    alice = await live_api.signup("alice")
    events = await run_over_websocket(
        live_server,
        alice,
        {
            "graph": example("story-flow.json"),
            "providerId": "mistral",
            "triggerNodeId": "french",
            "cachedOutputs": {"enhance": {"text": "A cartographer at dawn."}},
        },
    )
    assert ("enhance", "CACHED") in {
        (event["nodeId"], event["status"]) for event in events if event["__typename"] == "NodeStatusChanged"
    }
    assert len(fake_providers.requests) == 1
    assert "A cartographer at dawn." in json.dumps(fake_providers.requests[0].json)


async def test_a_run_a_stopped_process_left_running_ends_after_its_last_stored_event(
    live_server: str,
    live_api: GraphQLClient,
    settings: Settings,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    from web.app import create_app

    alice = await live_api.signup("alice")
    run_id = await _run_left_running(session_factory, int(alice.id), stored_events=3)

    restarted = create_app(settings)
    async with restarted.router.lifespan_context(restarted):
        pass

    run = (await live_api.execute(RUN, {"id": run_id}, token=alice.access_token)).ok()["run"]
    assert run["status"] == "INTERRUPTED" and "server stopped" in run["error"]
    assert {result["nodeId"]: result["status"] for result in run["nodeResults"]} == {
        "idea": "COMPLETED",
        "enhance": "CANCELLED",
        "french": "CANCELLED",
    }
    async with graphql_ws(live_server, payload={"token": alice.access_token}) as connection:
        operation = await connection.subscribe(RUN_EVENTS_AFTER, {"runId": run_id, "afterSeq": 3})
        resumed = await collect(connection, operation)
    assert [(event["__typename"], event["seq"]) for event in resumed] == [("RunFailed", 4)]


async def _run_left_running(
    session_factory: async_sessionmaker[AsyncSession], user_id: int, *, stored_events: int
) -> str:
    """What a killed process leaves behind: a running run, its first events, open node results."""
    from db.models import EventLog, Run, RunNodeResult
    from services.execution import events as run_events

    run = Run(id=uuid.uuid4(), user_id=user_id, status="running", graph_data={}, started_at=utc_now())
    async with session_factory() as session:
        session.add(run)
        await session.flush()
        for seq in range(1, stored_events + 1):
            event = run_events.RunStarted(run_id=str(run.id), seq=seq, at=utc_now()) if seq == 1 else (
                run_events.NodeOutputDelta(run_id=str(run.id), seq=seq, at=utc_now(), node_id="enhance", delta="a")
            )
            session.add(
                EventLog(event_name=event.event_name, payload=event.to_json(), user_id=user_id, run_id=run.id, seq=seq)
            )
        for node_id, status in (("idea", "completed"), ("enhance", "running"), ("french", "pending")):
            session.add(RunNodeResult(run_id=run.id, node_id=node_id, node_type="promptEnhancer", status=status))
        await session.commit()
    return str(run.id)


async def test_malformed_cached_outputs_are_refused_and_store_no_run(api: GraphQLClient) -> None:
    alice = await api.signup("alice")
    result = await api.execute(
        START_RUN, {"input": {"graph": example("story-flow.json"), "cachedOutputs": [1, 2]}}, token=alice.access_token
    )
    assert result.error_code == "BAD_USER_INPUT"
    assert result.errors[0]["extensions"]["field"] == "cachedOutputs"
    assert (await api.execute("{ runs { totalCount } }", token=alice.access_token)).ok()["runs"]["totalCount"] == 0


async def test_a_malformed_graph_is_refused_and_stores_no_run(api: GraphQLClient) -> None:
    alice = await api.signup("alice")
    result = await api.execute(START_RUN, {"input": {"graph": {"nodes": "many"}}}, token=alice.access_token)
    assert result.error_code == "BAD_USER_INPUT"
    assert result.errors[0]["extensions"]["field"] == "graph.nodes"
    assert (await api.execute("{ runs { totalCount } }", token=alice.access_token)).ok()["runs"]["totalCount"] == 0
