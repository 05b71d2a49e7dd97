"""Flows over the API: create, read, update with optimistic locking, delete, list, events."""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

from tests.graphql_client import Account, GraphQLClient


def moment(timestamp: str) -> datetime:
    return datetime.fromisoformat(timestamp)

FLOW_FIELDS = "id name graphData providerId version createdAt updatedAt owner { id } project { id name }"
CREATE_FLOW = f"mutation($input: CreateFlowInput!) {{ createFlow(input: $input) {{ {FLOW_FIELDS} }} }}"
UPDATE_FLOW = f"""
mutation($id: ID!, $input: UpdateFlowInput!) {{ updateFlow(id: $id, input: $input) {{ {FLOW_FIELDS} }} }}
"""
DELETE_FLOW = "mutation($id: ID!) { deleteFlow(id: $id) }"
FLOW = f"query($id: ID!) {{ flow(id: $id) {{ {FLOW_FIELDS} }} }}"
FLOWS_PAGE = """
query($projectId: ID, $first: Int, $after: String) {
  flows(projectId: $projectId, first: $first, after: $after) {
    totalCount
    edges { cursor node { id name } }
    nodes { id name }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}
"""
EMPTY_GRAPH = {"nodes": [], "edges": [], "viewport": {"x": 0, "y": 0, "zoom": 1}}

# What React Flow sends: the documented members plus the editor's own (measured, selected,
# dragging, parentId, style, className, zIndex, animated, markerEnd, ...) and nested data.
REACT_FLOW_GRAPH: dict[str, Any] = {
    "nodes": [
        {
            "id": "persona-1",
            "type": "personaData",
            "position": {"x": 12.5, "y": -40},
            "data": {"name": "Mira", "model": "mistral-small-latest", "tags": ["calm", "tall"], "weight": 0.7},
            "measured": {"width": 240, "height": 132},
            "selected": True,
            "dragging": False,
            "style": {"width": 240, "border": "1px solid #ccc"},
            "className": "node--persona",
            "zIndex": 3,
        },
        {
            "id": "story-1",
            "type": "storyTeller",
            "position": {"x": 400, "y": 0},
            "positionAbsolute": {"x": 400, "y": 0},
            "parentId": "group-1",
            "extent": "parent",
            "data": {"prompt": "Tell a story", "nested": {"deep": {"deeper": [1, None, True]}}},
        },
        {"id": "group-1", "type": "group", "position": {"x": 0, "y": 0}, "data": {}, "hidden": False},
    ],
    "edges": [
        {
            "id": "e1",
            "source": "persona-1",
            "target": "story-1",
            "sourceHandle": "persona",
            "targetHandle": "persona",
            "animated": True,
            "markerEnd": {"type": "arrowclosed"},
            "label": "who",
        }
    ],
    "viewport": {"x": -120.25, "y": 30, "zoom": 0.85},
    "editorVersion": "11.10.1",
}


async def create_flow(api: GraphQLClient, account: Account, project_id: str, name: str, **more: Any) -> dict[str, Any]:
    result = await api.execute(
        CREATE_FLOW, {"input": {"projectId": project_id, "name": name, **more}}, token=account.access_token
    )
    return result.ok()["createFlow"]


async def update_flow(api: GraphQLClient, account: Account, flow_id: str, **changes: Any) -> dict[str, Any]:
    result = await api.execute(UPDATE_FLOW, {"id": flow_id, "input": changes}, token=account.access_token)
    return result.ok()["updateFlow"]


async def read_flow(api: GraphQLClient, account: Account, flow_id: str) -> dict[str, Any]:
    return (await api.execute(FLOW, {"id": flow_id}, token=account.access_token)).ok()["flow"]


async def test_create_flow_without_a_graph_starts_empty_at_version_one(
    api: GraphQLClient, alice: Account, project: str
) -> None:
    flow = await create_flow(api, alice, project, "Draft")
    assert flow["name"] == "Draft"
    assert flow["graphData"] == EMPTY_GRAPH
    assert flow["providerId"] is None
    assert flow["version"] == 1
    assert flow["owner"] == {"id": alice.id}
    assert flow["project"] == {"id": project, "name": "Atlas"}


async def test_flow_reads_back_what_was_created(api: GraphQLClient, alice: Account, project: str) -> None:
    created = await create_flow(api, alice, project, "Draft", graphData=REACT_FLOW_GRAPH, providerId="mistral")
    assert await read_flow(api, alice, created["id"]) == created


async def test_graph_data_is_stored_as_sent_with_react_flows_extra_keys(
    api: GraphQLClient, alice: Account, project: str
) -> None:
    sent = copy.deepcopy(REACT_FLOW_GRAPH)
    created = await create_flow(api, alice, project, "Draft", graphData=sent)
    assert created["graphData"] == REACT_FLOW_GRAPH
    assert (await read_flow(api, alice, created["id"]))["graphData"] == REACT_FLOW_GRAPH


async def test_a_graph_without_edges_or_viewport_is_stored_as_sent(
    api: GraphQLClient, alice: Account, project: str
) -> None:
    graph = {"nodes": [{"id": "a", "type": "textInput", "position": {"x": 0, "y": 0}}]}
    created = await create_flow(api, alice, project, "Draft", graphData=graph)
    assert (await read_flow(api, alice, created["id"]))["graphData"] == graph


async def test_create_flow_with_a_provider_keeps_it(api: GraphQLClient, alice: Account, project: str) -> None:
    created = await create_flow(api, alice, project, "Draft", providerId="openrouter")
    assert (await read_flow(api, alice, created["id"]))["providerId"] == "openrouter"


async def test_every_listed_text_provider_is_accepted_for_a_flow(
    api: GraphQLClient, alice: Account, project: str
) -> None:
    providers = (await api.execute("{ providers { id kind } }")).ok()["providers"]
    text_providers = [provider["id"] for provider in providers if provider["kind"] == "text"]
    assert text_providers
    for provider_id in text_providers:
        assert (await create_flow(api, alice, project, provider_id, providerId=provider_id))["providerId"] == provider_id


async def test_update_flow_bumps_the_version_each_time(api: GraphQLClient, alice: Account, project: str) -> None:
    flow = await create_flow(api, alice, project, "Draft")
    second = await update_flow(api, alice, flow["id"], version=1, name="Second")
    third = await update_flow(api, alice, flow["id"], version=2, graphData=REACT_FLOW_GRAPH)
    fourth = await update_flow(api, alice, flow["id"], version=3, providerId="glm")
    assert [second["version"], third["version"], fourth["version"]] == [2, 3, 4]
    read = await read_flow(api, alice, flow["id"])
    assert (read["version"], read["name"], read["graphData"], read["providerId"]) == (
        4,
        "Second",
        REACT_FLOW_GRAPH,
        "glm",
    )


async def test_update_flow_changes_only_what_is_given(api: GraphQLClient, alice: Account, project: str) -> None:
    flow = await create_flow(api, alice, project, "Draft", graphData=REACT_FLOW_GRAPH, providerId="mistral")
    updated = await update_flow(api, alice, flow["id"], version=1, name="Renamed")
    assert updated["name"] == "Renamed"
    assert updated["graphData"] == REACT_FLOW_GRAPH
    assert updated["providerId"] == "mistral"
    assert updated["createdAt"] == flow["createdAt"]
    assert moment(updated["updatedAt"]) >= moment(flow["updatedAt"])


async def test_update_flow_replaces_the_whole_graph(api: GraphQLClient, alice: Account, project: str) -> None:
    flow = await create_flow(api, alice, project, "Draft", graphData=REACT_FLOW_GRAPH)
    smaller = {"nodes": [{"id": "only", "type": "textInput", "position": {"x": 1, "y": 1}, "data": {}}], "edges": []}
    updated = await update_flow(api, alice, flow["id"], version=1, graphData=smaller)
    assert updated["graphData"] == smaller
    assert (await read_flow(api, alice, flow["id"]))["graphData"] == smaller


async def test_update_flow_with_provider_null_clears_it(api: GraphQLClient, alice: Account, project: str) -> None:
    flow = await create_flow(api, alice, project, "Draft", providerId="mistral")
    updated = await update_flow(api, alice, flow["id"], version=1, providerId=None)
    assert updated["providerId"] is None
    assert updated["version"] == 2
    assert (await read_flow(api, alice, flow["id"]))["providerId"] is None


async def test_update_flow_without_provider_leaves_it(api: GraphQLClient, alice: Account, project: str) -> None:
    flow = await create_flow(api, alice, project, "Draft", providerId="mistral")
    await update_flow(api, alice, flow["id"], version=1, name="Renamed")
    assert (await read_flow(api, alice, flow["id"]))["providerId"] == "mistral"


async def test_update_flow_with_a_literal_null_provider_clears_it(api: GraphQLClient, alice: Account, project: str) -> None:
    """The same through an inline literal rather than a variable."""
    flow = await create_flow(api, alice, project, "Draft", providerId="mistral")
    result = await api.execute(
        "mutation($id: ID!) { updateFlow(id: $id, input: {version: 1, providerId: null}) { providerId version } }",
        {"id": flow["id"]},
        token=alice.access_token,
    )
    assert result.ok()["updateFlow"] == {"providerId": None, "version": 2}


async def test_update_flow_switches_the_provider(api: GraphQLClient, alice: Account, project: str) -> None:
    flow = await create_flow(api, alice, project, "Draft", providerId="mistral")
    assert (await update_flow(api, alice, flow["id"], version=1, providerId="glm"))["providerId"] == "glm"


async def test_delete_flow_removes_it(api: GraphQLClient, alice: Account, project: str) -> None:
    flow = await create_flow(api, alice, project, "Draft")
    kept = await create_flow(api, alice, project, "Kept")
    assert (await api.execute(DELETE_FLOW, {"id": flow["id"]}, token=alice.access_token)).ok() == {"deleteFlow": True}
    assert (await api.execute(FLOW, {"id": flow["id"]}, token=alice.access_token)).error_code == "NOT_FOUND"
    listed = (await api.execute(FLOWS_PAGE, {}, token=alice.access_token)).ok()["flows"]
    assert listed["totalCount"] == 1
    assert listed["nodes"] == [{"id": kept["id"], "name": "Kept"}]
    # The project stays.
    project_read = await api.execute(
        "query($id: ID!) { project(id: $id) { flows { id } } }", {"id": project}, token=alice.access_token
    )
    assert project_read.ok()["project"]["flows"] == [{"id": kept["id"]}]


async def test_an_updated_flow_can_be_deleted(api: GraphQLClient, alice: Account, project: str) -> None:
    flow = await create_flow(api, alice, project, "Draft")
    await update_flow(api, alice, flow["id"], version=1, name="Renamed")
    assert (await api.execute(DELETE_FLOW, {"id": flow["id"]}, token=alice.access_token)).ok() == {"deleteFlow": True}


async def test_flows_filters_by_project(api: GraphQLClient, alice: Account) -> None:
    atlas = await api.create_project(alice, "Atlas")
    borealis = await api.create_project(alice, "Borealis")
    empty = await api.create_project(alice, "Empty")
    in_atlas = [(await create_flow(api, alice, atlas, name))["id"] for name in ("a1", "a2")]
    in_borealis = [(await create_flow(api, alice, borealis, name))["id"] for name in ("b1",)]

    async def listed(project_id: str | None) -> list[str]:
        page = (await api.execute(FLOWS_PAGE, {"projectId": project_id}, token=alice.access_token)).ok()["flows"]
        assert page["totalCount"] == len(page["nodes"])
        return [node["id"] for node in page["nodes"]]

    assert await listed(atlas) == in_atlas
    assert await listed(borealis) == in_borealis
    assert await listed(empty) == []
    assert await listed(None) == in_atlas + in_borealis


async def test_flows_paginate_over_three_pages(api: GraphQLClient, alice: Account, project: str) -> None:
    other = await api.create_project(alice, "Other")
    names = [f"F{i}" for i in range(7)]
    for name in names:
        await create_flow(api, alice, project, name)
    await create_flow(api, alice, other, "elsewhere")

    pages = []
    after = None
    while True:
        page = (
            await api.execute(FLOWS_PAGE, {"projectId": project, "first": 3, "after": after}, token=alice.access_token)
        ).ok()["flows"]
        pages.append(page)
        assert page["totalCount"] == 7
        assert page["nodes"] == [edge["node"] for edge in page["edges"]]
        assert page["pageInfo"]["startCursor"] == page["edges"][0]["cursor"]
        assert page["pageInfo"]["endCursor"] == page["edges"][-1]["cursor"]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]

    assert [[node["name"] for node in page["nodes"]] for page in pages] == [["F0", "F1", "F2"], ["F3", "F4", "F5"], ["F6"]]
    assert [page["pageInfo"]["hasPreviousPage"] for page in pages] == [False, True, True]


async def test_a_flow_resolves_its_project_and_owner(api: GraphQLClient, alice: Account, project: str) -> None:
    flow = await create_flow(api, alice, project, "Draft")
    read = (
        await api.execute(
            "query($id: ID!) { flow(id: $id) { owner { id username email } project { id name owner { username } } } }",
            {"id": flow["id"]},
            token=alice.access_token,
        )
    ).ok()["flow"]
    assert read == {
        "owner": {"id": alice.id, "username": "alice", "email": "alice@example.com"},
        "project": {"id": project, "name": "Atlas", "owner": {"username": "alice"}},
    }


async def test_flow_changes_are_logged_as_events_newest_first(api: GraphQLClient, alice: Account, project: str) -> None:
    flow = await create_flow(api, alice, project, "Draft")
    await update_flow(api, alice, flow["id"], version=1, name="Renamed")
    (await api.execute(DELETE_FLOW, {"id": flow["id"]}, token=alice.access_token)).ok()

    events = (
        await api.execute("{ events(first: 3) { totalCount nodes { eventName projectId payload } } }", token=alice.access_token)
    ).ok()["events"]
    assert events["totalCount"] == 5  # user.created, project.created and the three below
    assert events["nodes"] == [
        {"eventName": "flow.deleted", "projectId": project, "payload": {"flowId": flow["id"], "name": "Renamed", "version": 2}},
        {"eventName": "flow.updated", "projectId": project, "payload": {"flowId": flow["id"], "name": "Renamed", "version": 2}},
        {"eventName": "flow.created", "projectId": project, "payload": {"flowId": flow["id"], "name": "Draft", "version": 1}},
    ]
