"""Projects over the API: create, read, update, delete, list with Relay pagination, events."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from tests.graphql_client import Account, GraphQLClient


def moment(timestamp: str) -> datetime:
    return datetime.fromisoformat(timestamp)

PROJECT_FIELDS = "id name description createdAt updatedAt owner { id username }"
CREATE_PROJECT = f"""
mutation($input: CreateProjectInput!) {{ createProject(input: $input) {{ {PROJECT_FIELDS} }} }}
"""
UPDATE_PROJECT = f"""
mutation($id: ID!, $input: UpdateProjectInput!) {{ updateProject(id: $id, input: $input) {{ {PROJECT_FIELDS} }} }}
"""
DELETE_PROJECT = "mutation($id: ID!) { deleteProject(id: $id) }"
PROJECT = f"query($id: ID!) {{ project(id: $id) {{ {PROJECT_FIELDS} }} }}"
PROJECTS_PAGE = """
query($first: Int, $after: String) {
  projects(first: $first, after: $after) {
    totalCount
    edges { cursor node { id name } }
    nodes { id name }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}
"""
CREATE_FLOW = """
mutation($projectId: ID!, $name: String!) { createFlow(input: {projectId: $projectId, name: $name}) { id } }
"""
CREATE_CHARACTER = """
mutation($projectId: ID, $name: String!) { createCharacter(input: {projectId: $projectId, name: $name}) { id } }
"""
EVENTS = "{ events { totalCount nodes { eventName projectId payload sessionId createdAt } } }"


async def create_project(api: GraphQLClient, account: Account, name: str, description: str | None = None) -> dict[str, Any]:
    project_input: dict[str, Any] = {"name": name}
    if description is not None:
        project_input["description"] = description
    result = await api.execute(CREATE_PROJECT, {"input": project_input}, token=account.access_token)
    return result.ok()["createProject"]


async def test_create_project_returns_the_new_project(api: GraphQLClient) -> None:
    alice = await api.signup("alice")
    project = await create_project(api, alice, "Atlas", "A world map")
    assert project["name"] == "Atlas"
    assert project["description"] == "A world map"
    assert project["owner"] == {"id": alice.id, "username": "alice"}
    assert int(project["id"]) > 0
    assert datetime.fromisoformat(project["createdAt"]).tzinfo is not None
    assert moment(project["updatedAt"]) >= moment(project["createdAt"])


async def test_create_project_defaults_the_description_to_empty(api: GraphQLClient) -> None:
    alice = await api.signup("alice")
    assert (await create_project(api, alice, "Atlas"))["description"] == ""


async def test_create_project_trims_the_name(api: GraphQLClient) -> None:
    alice = await api.signup("alice")
    assert (await create_project(api, alice, "  Atlas \n"))["name"] == "Atlas"


async def test_project_reads_back_what_was_created(api: GraphQLClient) -> None:
    alice = await api.signup("alice")
    created = await create_project(api, alice, "Atlas", "A world map")
    read = (await api.execute(PROJECT, {"id": created["id"]}, token=alice.access_token)).ok()["project"]
    assert read == created


async def test_update_project_changes_only_the_name_when_only_the_name_is_given(api: GraphQLClient) -> None:
    alice = await api.signup("alice")
    created = await create_project(api, alice, "Atlas", "A world map")
    updated = (
        await api.execute(UPDATE_PROJECT, {"id": created["id"], "input": {"name": "Atlas II"}}, token=alice.access_token)
    ).ok()["updateProject"]
    assert updated["name"] == "Atlas II"
    assert updated["description"] == "A world map"
    assert updated["createdAt"] == created["createdAt"]
    assert moment(updated["updatedAt"]) >= moment(created["updatedAt"])
    read = (await api.execute(PROJECT, {"id": created["id"]}, token=alice.access_token)).ok()["project"]
    assert read == updated


async def test_update_project_changes_only_the_description_when_only_it_is_given(api: GraphQLClient) -> None:
    alice = await api.signup("alice")
    created = await create_project(api, alice, "Atlas", "A world map")
    updated = (
        await api.execute(UPDATE_PROJECT, {"id": created["id"], "input": {"description": ""}}, token=alice.access_token)
    ).ok()["updateProject"]
    assert (updated["name"], updated["description"]) == ("Atlas", "")


async def test_update_project_with_null_members_leaves_them_unchanged(api: GraphQLClient) -> None:
    alice = await api.signup("alice")
    created = await create_project(api, alice, "Atlas", "A world map")
    updated = (
        await api.execute(
            UPDATE_PROJECT, {"id": created["id"], "input": {"name": None, "description": None}}, token=alice.access_token
        )
    ).ok()["updateProject"]
    assert (updated["name"], updated["description"]) == ("Atlas", "A world map")


async def test_delete_project_removes_it(api: GraphQLClient) -> None:
    alice = await api.signup("alice")
    created = await create_project(api, alice, "Atlas")
    assert (await api.execute(DELETE_PROJECT, {"id": created["id"]}, token=alice.access_token)).ok() == {
        "deleteProject": True
    }
    assert (await api.execute(PROJECT, {"id": created["id"]}, token=alice.access_token)).error_code == "NOT_FOUND"
    listed = (await api.execute("{ projects { totalCount } }", token=alice.access_token)).ok()
    assert listed["projects"]["totalCount"] == 0


async def test_deleting_a_project_twice_is_not_found_the_second_time(api: GraphQLClient) -> None:
    alice = await api.signup("alice")
    created = await create_project(api, alice, "Atlas")
    (await api.execute(DELETE_PROJECT, {"id": created["id"]}, token=alice.access_token)).ok()
    again = await api.execute(DELETE_PROJECT, {"id": created["id"]}, token=alice.access_token)
    assert again.error_code == "NOT_FOUND"


async def test_deleting_a_project_deletes_its_flows_and_characters(api: GraphQLClient) -> None:
    alice = await api.signup("alice")
    token = alice.access_token
    doomed = await create_project(api, alice, "Doomed")
    kept = await create_project(api, alice, "Kept")
    doomed_flow = (await api.execute(CREATE_FLOW, {"projectId": doomed["id"], "name": "f1"}, token=token)).ok()
    kept_flow = (await api.execute(CREATE_FLOW, {"projectId": kept["id"], "name": "f2"}, token=token)).ok()
    doomed_character = (
        await api.execute(CREATE_CHARACTER, {"projectId": doomed["id"], "name": "c1"}, token=token)
    ).ok()
    kept_character = (await api.execute(CREATE_CHARACTER, {"projectId": kept["id"], "name": "c2"}, token=token)).ok()
    loose_character = (await api.execute(CREATE_CHARACTER, {"projectId": None, "name": "c3"}, token=token)).ok()

    (await api.execute(DELETE_PROJECT, {"id": doomed["id"]}, token=token)).ok()

    flow = await api.execute("query($id: ID!) { flow(id: $id) { id } }", {"id": doomed_flow["createFlow"]["id"]}, token=token)
    assert flow.error_code == "NOT_FOUND"
    character = await api.execute(
        "query($id: ID!) { character(id: $id) { id } }", {"id": doomed_character["createCharacter"]["id"]}, token=token
    )
    assert character.error_code == "NOT_FOUND"
    remaining: dict[str, Any] = {}
    for connection in ("flows", "characters", "projects"):
        remaining.update((await api.execute(f"{{ {connection} {{ nodes {{ id }} }} }}", token=token)).ok())
    assert remaining["flows"]["nodes"] == [{"id": kept_flow["createFlow"]["id"]}]
    assert {node["id"] for node in remaining["characters"]["nodes"]} == {
        kept_character["createCharacter"]["id"],
        loose_character["createCharacter"]["id"],
    }
    assert remaining["projects"]["nodes"] == [{"id": kept["id"]}]


async def test_a_project_lists_its_flows_and_characters_oldest_first(api: GraphQLClient) -> None:
    alice = await api.signup("alice")
    token = alice.access_token
    project = await create_project(api, alice, "Atlas")
    other = await create_project(api, alice, "Other")
    flow_ids = [
        (await api.execute(CREATE_FLOW, {"projectId": project["id"], "name": name}, token=token)).ok()["createFlow"]["id"]
        for name in ("first", "second", "third")
    ]
    (await api.execute(CREATE_FLOW, {"projectId": other["id"], "name": "elsewhere"}, token=token)).ok()
    character_ids = [
        (await api.execute(CREATE_CHARACTER, {"projectId": project["id"], "name": name}, token=token)).ok()[
            "createCharacter"
        ]["id"]
        for name in ("Mira", "Tom")
    ]
    read = (
        await api.execute(
            "query($id: ID!) { project(id: $id) { flows { id name } characters { id name } } }",
            {"id": project["id"]},
            token=token,
        )
    ).ok()["project"]
    assert read["flows"] == [
        {"id": flow_id, "name": name} for flow_id, name in zip(flow_ids, ("first", "second", "third"), strict=True)
    ]
    assert read["characters"] == [
        {"id": character_id, "name": name} for character_id, name in zip(character_ids, ("Mira", "Tom"), strict=True)
    ]


async def test_a_new_project_has_no_flows_or_characters(api: GraphQLClient) -> None:
    alice = await api.signup("alice")
    project = await create_project(api, alice, "Atlas")
    read = (
        await api.execute(
            "query($id: ID!) { project(id: $id) { flows { id } characters { id } } }",
            {"id": project["id"]},
            token=alice.access_token,
        )
    ).ok()["project"]
    assert read == {"flows": [], "characters": []}


async def test_projects_are_listed_oldest_first_with_a_total_count(api: GraphQLClient) -> None:
    alice = await api.signup("alice")
    ids = [(await create_project(api, alice, f"P{i}"))["id"] for i in range(3)]
    listed = (await api.execute("{ projects { totalCount nodes { id } } }", token=alice.access_token)).ok()["projects"]
    assert listed == {"totalCount": 3, "nodes": [{"id": project_id} for project_id in ids]}


async def test_projects_paginate_over_three_pages(api: GraphQLClient) -> None:
    alice = await api.signup("alice")
    names = [f"P{i}" for i in range(5)]
    for name in names:
        await create_project(api, alice, name)

    pages = []
    after = None
    while True:
        page = (
            await api.execute(PROJECTS_PAGE, {"first": 2, "after": after}, token=alice.access_token)
        ).ok()["projects"]
        pages.append(page)
        assert page["totalCount"] == 5
        assert page["nodes"] == [edge["node"] for edge in page["edges"]]
        cursors = [edge["cursor"] for edge in page["edges"]]
        assert page["pageInfo"]["startCursor"] == cursors[0]
        assert page["pageInfo"]["endCursor"] == cursors[-1]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]

    assert [[node["name"] for node in page["nodes"]] for page in pages] == [["P0", "P1"], ["P2", "P3"], ["P4"]]
    assert [page["pageInfo"]["hasPreviousPage"] for page in pages] == [False, True, True]
    assert [page["pageInfo"]["hasNextPage"] for page in pages] == [True, True, False]
    all_cursors = [edge["cursor"] for page in pages for edge in page["edges"]]
    assert len(set(all_cursors)) == 5


async def test_a_page_after_the_last_cursor_is_empty(api: GraphQLClient) -> None:
    alice = await api.signup("alice")
    for i in range(2):
        await create_project(api, alice, f"P{i}")
    full = (await api.execute(PROJECTS_PAGE, {"first": 2}, token=alice.access_token)).ok()["projects"]
    after_last = (
        await api.execute(PROJECTS_PAGE, {"first": 2, "after": full["pageInfo"]["endCursor"]}, token=alice.access_token)
    ).ok()["projects"]
    assert after_last == {
        "totalCount": 2,
        "edges": [],
        "nodes": [],
        "pageInfo": {"hasNextPage": False, "hasPreviousPage": True, "startCursor": None, "endCursor": None},
    }


async def test_a_page_of_size_zero_gives_only_the_count(api: GraphQLClient) -> None:
    alice = await api.signup("alice")
    await create_project(api, alice, "P0")
    page = (await api.execute(PROJECTS_PAGE, {"first": 0}, token=alice.access_token)).ok()["projects"]
    assert page["totalCount"] == 1
    assert page["nodes"] == []
    assert page["pageInfo"]["hasNextPage"] is True


async def test_projects_default_to_pages_of_twenty(api: GraphQLClient) -> None:
    alice = await api.signup("alice")
    for i in range(21):
        await create_project(api, alice, f"P{i:02}")
    page = (await api.execute(PROJECTS_PAGE, {}, token=alice.access_token)).ok()["projects"]
    assert len(page["nodes"]) == 20
    assert page["totalCount"] == 21
    assert page["pageInfo"]["hasNextPage"] is True


async def test_project_changes_are_logged_as_events_newest_first(api: GraphQLClient) -> None:
    alice = await api.signup("alice")
    token = alice.access_token
    project = await create_project(api, alice, "Atlas")
    (await api.execute(UPDATE_PROJECT, {"id": project["id"], "input": {"name": "Atlas II"}}, token=token)).ok()
    (await api.execute(DELETE_PROJECT, {"id": project["id"]}, token=token)).ok()

    events = (await api.execute(EVENTS, token=token)).ok()["events"]
    assert [event["eventName"] for event in events["nodes"]] == [
        "project.deleted",
        "project.updated",
        "project.created",
        "user.created",
    ]
    assert events["totalCount"] == 4
    deleted, updated, created, _ = events["nodes"]
    assert created["payload"] == {"projectId": int(project["id"]), "name": "Atlas"}
    assert updated["payload"] == {"projectId": int(project["id"]), "name": "Atlas II"}
    assert deleted["payload"]["name"] == "Atlas II"
    # The project row is gone; its events stay, no longer pointing at it.
    assert created["projectId"] is None
    timestamps = [moment(event["createdAt"]) for event in events["nodes"]]
    assert timestamps == sorted(timestamps, reverse=True)
    assert created["sessionId"] == updated["sessionId"] == deleted["sessionId"] is not None


@pytest.mark.parametrize("description", ["", "multi\nline\ttext with émojis 🎨", "x" * 5_000])
async def test_descriptions_are_stored_exactly(api: GraphQLClient, description: str) -> None:
    alice = await api.signup("alice")
    project = await create_project(api, alice, "Atlas", description)
    read = (await api.execute(PROJECT, {"id": project["id"]}, token=alice.access_token)).ok()["project"]
    assert read["description"] == description


PROJECTS_WITH_FLOWS = {
    "nodes": "query($first: Int, $after: String) { projects(first: $first, after: $after) "
    "{ totalCount pageInfo { hasNextPage endCursor } nodes { name flows { name } } } }",
    "edges": "query($first: Int, $after: String) { projects(first: $first, after: $after) "
    "{ pageInfo { hasNextPage endCursor } edges { node { name flows { name } } } } }",
    "fragment": "query($first: Int, $after: String) { projects(first: $first, after: $after) "
    "{ pageInfo { hasNextPage endCursor } ...Page } } "
    "fragment Page on ProjectConnection { nodes { ... on Project { name flows { name } } } }",
}


@pytest.mark.parametrize("shape", list(PROJECTS_WITH_FLOWS))
async def test_pages_of_projects_list_each_projects_own_flows(api: GraphQLClient, shape: str) -> None:
    # The page and its flows are read in one statement when the flows are selected: each
    # project gets its own flows, oldest first, a project without any none, and another
    # user's never appear.
    alice, bob = await api.signup("alice"), await api.signup("bob")
    expected = []
    for index, flow_count in enumerate((2, 0, 3)):
        project = await create_project(api, alice, f"A{index}")
        names = [f"A{index}.{n}" for n in range(flow_count)]
        for name in names:
            (await api.execute(CREATE_FLOW, {"projectId": project["id"], "name": name}, token=alice.access_token)).ok()
        expected.append({"name": f"A{index}", "flows": [{"name": name} for name in names]})
    bobs = await create_project(api, bob, "B")
    (await api.execute(CREATE_FLOW, {"projectId": bobs["id"], "name": "B.0"}, token=bob.access_token)).ok()

    pages: list[list[dict[str, Any]]] = []
    after = None
    while True:
        page = (
            await api.execute(PROJECTS_WITH_FLOWS[shape], {"first": 2, "after": after}, token=alice.access_token)
        ).ok()["projects"]
        nodes = page["nodes"] if "nodes" in page else [edge["node"] for edge in page["edges"]]
        pages.append(nodes)
        assert page.get("totalCount", 3) == 3
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]

    assert pages == [expected[:2], expected[2:]]
    bob_sees = (await api.execute(PROJECTS_WITH_FLOWS[shape], {}, token=bob.access_token)).ok()["projects"]
    bob_nodes = bob_sees["nodes"] if "nodes" in bob_sees else [edge["node"] for edge in bob_sees["edges"]]
    assert bob_nodes == [{"name": "B", "flows": [{"name": "B.0"}]}]
