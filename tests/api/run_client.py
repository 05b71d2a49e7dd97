"""Running flows in tests: the operations, the example graphs, collecting a subscription."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

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


def example(name: str) -> dict[str, Any]:
    return json.loads((EXAMPLES / name).read_text())


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


