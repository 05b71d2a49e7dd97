"""The data both API benchmarks use: the queries measured and a user with 20 projects of 3 flows."""

from __future__ import annotations

import contextlib
from typing import Any

import httpx

PROJECTS = "{ projects(first: 20) { nodes { name flows { name } } } }"
HEALTH = "{ health { status } }"
SIGNUP = "mutation($input: SignupInput!) { signup(input: $input) { accessToken } }"
CREATE_PROJECT = "mutation($input: CreateProjectInput!) { createProject(input: $input) { id } }"
CREATE_FLOW = "mutation($input: CreateFlowInput!) { createFlow(input: $input) { id } }"
def flow_graph(nodes: int) -> dict[str, Any]:
    """A chain initialPrompt -> compressors -> textOutput of `nodes` nodes."""
    ids = [f"n{i}" for i in range(max(2, nodes))]
    types = ["initialPrompt", *["compressor"] * (len(ids) - 2), "textOutput"]
    return {
        "nodes": [
            {"id": node_id, "type": node_type, "position": {"x": 250.0 * i, "y": 0.0},
             "data": {"text": "A lighthouse keeper finds a message in a bottle."} if i == 0 else {}}
            for i, (node_id, node_type) in enumerate(zip(ids, types, strict=True))
        ],
        "edges": [
            {"id": f"e{i}", "source": a, "target": b, "sourceHandle": "text", "targetHandle": "text"}
            for i, (a, b) in enumerate(zip(ids, ids[1:], strict=False))
        ],
        "viewport": {"x": 0, "y": 0, "zoom": 1},
    }


async def prepare(base: str, flow_nodes: int = 2, http: httpx.AsyncClient | None = None) -> str:
    """Sign a user up and give them 20 projects of 3 flows; returns the access token."""
    async with contextlib.AsyncExitStack() as stack:
        if http is None:
            http = await stack.enter_async_context(httpx.AsyncClient(base_url=base, timeout=60))

        async def call(query: str, variables: dict[str, Any], token: str | None = None) -> Any:
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            response = await http.post("/graphql", json={"query": query, "variables": variables}, headers=headers)
            body = response.json()
            if body.get("errors"):
                raise RuntimeError(f"{query[:40]}: {body['errors']}")
            return body["data"]

        user = {"email": "bench@example.com", "username": "bench", "password": "correct horse battery"}
        token = (await call(SIGNUP, {"input": user}))["signup"]["accessToken"]
        graph = flow_graph(flow_nodes)
        for p in range(20):
            project = (await call(CREATE_PROJECT, {"input": {"name": f"Project {p}"}}, token))["createProject"]
            for f in range(3):
                flow = {"projectId": project["id"], "name": f"Flow {p}.{f}", "graphData": graph, "providerId": "mistral"}
                await call(CREATE_FLOW, {"input": flow}, token)
        return token
