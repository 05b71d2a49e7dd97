"""What an editor gets through Apollo Client's default cache is what the server sent.

Apollo (and Relay) normalize objects by __typename + id, so two objects of one type sharing an
id are merged into one; these tests run the editor's queries through `@apollo/client` in Node.js
and compare its answers with the server's plain HTTP answers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.graphql_client import Account, GraphQLClient
from tests.node_scripts import JS_DIR, run_node_script
from tests.waiting import wait_until

APOLLO_SCRIPT = JS_DIR / "apollo_cache.mjs"

# Every selection set names __typename, as Apollo adds it to each: the documents it sends and the
# ones sent here over plain HTTP are then the same.
CATALOG = """query Catalog { components { __typename type name category description icon order isExecutable
  fields { __typename key label kind default options { __typename value label } required validation }
  ports { __typename key direction kind multiple label }
  apiConfig { __typename providerCall providerKind defaultProvider defaultModel temperature promptId }
  outputSchema } }"""
PROVIDERS = "query Providers { providers { __typename id name kind available defaultModel } }"
PROJECT = """query Project($id: ID!) { project(id: $id) { __typename id name
  owner { __typename id username }
  flows { __typename id name version providerId graphData }
  characters { __typename id name description } } }"""
FLOW = """query Flow($id: ID!) { flow(id: $id) { __typename id name version graphData
  project { __typename id name } owner { __typename id username } } }"""
RUNS = """query Runs($flowId: ID) { runs(flowId: $flowId, first: 10) { __typename totalCount
  nodes { __typename id status flowId graphData outputs error
    nodeResults { __typename nodeId nodeType status output error } } } }"""
RUN = """query Run($id: ID!) { run(id: $id) { __typename id status flowId graphData outputs error
  nodeResults { __typename nodeId nodeType status output error durationMs } } }"""

Operations = list[tuple[str, dict[str, Any]]]


def graph(text: str) -> dict[str, Any]:
    """A flow of no-provider nodes: it runs with no provider configured."""
    return {
        "nodes": [
            {"id": "idea", "type": "initialPrompt", "position": {"x": 0, "y": 0}, "data": {"text": text}},
            {"id": "out", "type": "textOutput", "position": {"x": 300, "y": 0}, "data": {"label": "Prompt"}},
        ],
        "edges": [{"id": "e1", "source": "idea", "target": "out", "sourceHandle": "text", "targetHandle": "text"}],
        "viewport": {"x": 0, "y": 0, "zoom": 1},
    }


@pytest.fixture(scope="session")
def apollo(node_packages: None) -> Path:
    return APOLLO_SCRIPT


async def through_apollo(
    script: Path, base_url: str, token: str, operations: Operations
) -> dict[str, list[Any]]:
    """Apollo's answers to `operations`, run in order on one client: {results, reread}."""
    request = {
        "url": f"{base_url}/graphql",
        "token": token,
        "operations": [{"query": query, "variables": variables} for query, variables in operations],
    }
    return await run_node_script(script.name, request, timeout=60)


async def plain(api: GraphQLClient, token: str, operations: Operations) -> list[Any]:
    return [(await api.execute(query, variables, token=token)).ok() for query, variables in operations]


async def finished_run(api: GraphQLClient, owner: Account, run_input: dict[str, Any]) -> str:
    """Starts a run and waits (through `run(id)`) until it has finished; returns its id."""
    started = await api.execute(
        "mutation($input: RunInput!) { startRun(input: $input) { id } }", {"input": run_input}, token=owner.access_token
    )
    run_id = str(started.ok()["startRun"]["id"])

    async def completed() -> bool:
        read = await api.execute(
            "query($id: ID!) { run(id: $id) { status error } }", {"id": run_id}, token=owner.access_token
        )
        run = read.ok()["run"]
        assert run["status"] in ("PENDING", "RUNNING", "COMPLETED"), run
        return bool(run["status"] == "COMPLETED")

    await wait_until(completed, what=f"run {run_id} to finish")
    return run_id


async def create_flow(api: GraphQLClient, owner: Account, project: str, name: str) -> str:
    result = await api.execute(
        "mutation($input: CreateFlowInput!) { createFlow(input: $input) { id } }",
        {"input": {"projectId": project, "name": name, "graphData": graph(f"{name}: a lighthouse")}},
        token=owner.access_token,
    )
    return str(result.ok()["createFlow"]["id"])


async def test_the_catalog_reads_the_same_through_apollos_cache(
    apollo: Path, live_server: str, live_api: GraphQLClient
) -> None:
    alice = await live_api.signup("alice")
    operations: Operations = [(CATALOG, {}), (PROVIDERS, {})]

    sent = await plain(live_api, alice.access_token, operations)
    seen = await through_apollo(apollo, live_server, alice.access_token, operations)

    assert seen == {"results": sent, "reread": sent}


async def test_flows_and_runs_read_the_same_through_apollos_cache(
    apollo: Path, live_server: str, live_api: GraphQLClient
) -> None:
    alice = await live_api.signup("alice")
    project = await live_api.create_project(alice)
    await live_api.execute(
        "mutation($p: ID!) { createCharacter(input: {projectId: $p, name: \"Mira\"}) { id } }",
        {"p": project},
        token=alice.access_token,
    )
    harbour = await create_flow(live_api, alice, project, "Harbour")
    await create_flow(live_api, alice, project, "Lighthouse")
    stored_run = await finished_run(live_api, alice, {"flowId": harbour})
    graph_run = await finished_run(live_api, alice, {"graph": graph("a storm")})
    operations: Operations = [
        (PROJECT, {"id": project}),
        (FLOW, {"id": harbour}),
        (RUNS, {"flowId": harbour}),
        (RUNS, {"flowId": None}),
        (RUN, {"id": stored_run}),
        (RUN, {"id": graph_run}),
    ]

    sent = await plain(live_api, alice.access_token, operations)
    seen = await through_apollo(apollo, live_server, alice.access_token, operations)

    assert seen == {"results": sent, "reread": sent}
