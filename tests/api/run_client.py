"""Running flows in tests: the operations, the example graphs, collecting a subscription, and
what a run's stored log must hold."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.repositories.runs import RunRepository
from tests.graphql_client import Account, GraphQLClient, Subscription, graphql_ws

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

EVENT_FIELDS = """
  __typename runId seq at
  ... on RunStarted { flowId }
  ... on NodeStatusChanged { nodeId status }
  ... on NodeOutputDelta { nodeId delta }
  ... on NodeCompleted { nodeId output }
  ... on NodeFailed { nodeId error }
  ... on RunCompleted { outputs }
  ... on RunFailed { error }
"""
RUN_FLOW = f"subscription($input: RunInput!) {{ runFlow(input: $input) {{ {EVENT_FIELDS} }} }}"
RUN_EVENTS = f"subscription($runId: ID!) {{ runEvents(runId: $runId) {{ {EVENT_FIELDS} }} }}"
RUN_EVENTS_AFTER = (
    f"subscription($runId: ID!, $afterSeq: Int!) {{ runEvents(runId: $runId, afterSeq: $afterSeq) {{ {EVENT_FIELDS} }} }}"
)
RUN = """query($id: ID!) { run(id: $id) { id status error outputs flowId
  nodeResults { nodeId nodeType status output error } } }"""
START_RUN = "mutation($input: RunInput!) { startRun(input: $input) { id status } }"
CANCEL_RUN = "mutation($id: ID!) { cancelRun(id: $id) { id status } }"
FINAL = {"RunCompleted", "RunFailed", "RunCancelled"}
TERMINAL_NODE_STATUSES = {"COMPLETED", "CACHED", "SKIPPED", "CANCELLED", "FAILED"}


def example(name: str) -> dict[str, Any]:
    return json.loads((EXAMPLES / name).read_text())


# The story flow, its text from the fake Mistral.
STORY = {"graph": example("story-flow.json"), "providerId": "mistral"}


async def collect(connection: Subscription, operation_id: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    while True:
        message = await asyncio.wait_for(connection.receive(), timeout=20)
        assert message.get("id") == operation_id, message
        if message["type"] == "complete":
            return events
        assert message["type"] == "next", message
        assert "errors" not in message["payload"], message["payload"]
        events.append(next(iter(message["payload"]["data"].values())))


async def run_over_websocket(live_server: str, account: Account, run_input: dict[str, Any]) -> list[dict[str, Any]]:
    async with graphql_ws(live_server, payload={"token": account.access_token}) as connection:
        operation = await connection.subscribe(RUN_FLOW, {"input": run_input})
        return await collect(connection, operation)


async def create_flow(api: GraphQLClient, account: Account, graph: dict[str, Any]) -> str:
    project = (
        await api.execute('mutation { createProject(input: {name: "Runs"}) { id } }', token=account.access_token)
    ).ok()["createProject"]
    flow = await api.execute(
        "mutation($input: CreateFlowInput!) { createFlow(input: $input) { id } }",
        {"input": {"projectId": project["id"], "name": "Story", "graphData": graph, "providerId": "mistral"}},
        token=account.access_token,
    )
    return flow.ok()["createFlow"]["id"]


# --- what a run's stored log must hold (ARCHITECTURE.md, "The run path") --------------------


async def stored_log(session_factory: async_sessionmaker[AsyncSession], run_id: str) -> list[tuple[int, str]]:
    async with session_factory() as session:
        rows = await RunRepository(session).events(uuid.UUID(run_id))
    return [(row.seq or 0, row.event_name) for row in rows]


def assert_log_holds(seen: list[dict[str, Any]], stored: list[tuple[int, str]]) -> None:
    """The stored log is gapless, ends in one terminal event, and holds everything seen."""
    assert [seq for seq, _ in stored] == list(range(1, len(stored) + 1))
    assert [name in FINAL for _, name in stored].count(True) == 1
    assert stored[-1][1] in FINAL
    assert [event["seq"] for event in seen] == list(range(1, len(seen) + 1))
    assert [(event["seq"], event["__typename"]) for event in seen] == stored[: len(seen)]


async def receive_events(connection: Subscription, count: int) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    while len(events) < count:
        message = await asyncio.wait_for(connection.receive(), timeout=20)
        assert message["type"] == "next", message
        events.append(next(iter(message["payload"]["data"].values())))
    return events


async def node_statuses(api: GraphQLClient, account: Account, run_id: str) -> dict[str, Any]:
    run = (await api.execute(RUN, {"id": run_id}, token=account.access_token)).ok()["run"]
    return {"status": run["status"], "nodes": {result["status"] for result in run["nodeResults"]}}
