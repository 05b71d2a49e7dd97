"""Consistent characters over the API: create, read, update, delete, list, events."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tests.graphql_client import Account, GraphQLClient


def moment(timestamp: str) -> datetime:
    return datetime.fromisoformat(timestamp)

CHARACTER_FIELDS = (
    "id name description appearance personality outfit extra createdAt updatedAt owner { id } project { id }"
)
CREATE_CHARACTER = f"""
mutation($input: CreateCharacterInput!) {{ createCharacter(input: $input) {{ {CHARACTER_FIELDS} }} }}
"""
UPDATE_CHARACTER = f"""
mutation($id: ID!, $input: UpdateCharacterInput!) {{
  updateCharacter(id: $id, input: $input) {{ {CHARACTER_FIELDS} }}
}}
"""
DELETE_CHARACTER = "mutation($id: ID!) { deleteCharacter(id: $id) }"
CHARACTER = f"query($id: ID!) {{ character(id: $id) {{ {CHARACTER_FIELDS} }} }}"
CHARACTERS_PAGE = """
query($projectId: ID, $first: Int, $after: String) {
  characters(projectId: $projectId, first: $first, after: $after) {
    totalCount
    edges { cursor node { id name } }
    nodes { id name }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}
"""

MIRA = {
    "name": "Mira",
    "description": "A cartographer from the northern coast",
    "appearance": "tall, freckles, grey eyes",
    "personality": "patient, curious",
    "outfit": "oilskin coat, brass compass",
    "extra": {"age": 31, "languages": ["en", "fr"], "voice": {"pitch": "low"}, "notes": None},
}


async def create_character(api: GraphQLClient, account: Account, **fields: Any) -> dict[str, Any]:
    result = await api.execute(CREATE_CHARACTER, {"input": fields}, token=account.access_token)
    return result.ok()["createCharacter"]


async def update_character(api: GraphQLClient, account: Account, character_id: str, **changes: Any) -> dict[str, Any]:
    result = await api.execute(UPDATE_CHARACTER, {"id": character_id, "input": changes}, token=account.access_token)
    return result.ok()["updateCharacter"]


async def read_character(api: GraphQLClient, account: Account, character_id: str) -> dict[str, Any]:
    return (await api.execute(CHARACTER, {"id": character_id}, token=account.access_token)).ok()["character"]


async def test_create_character_stores_every_attribute(api: GraphQLClient, alice: Account, project: str) -> None:
    created = await create_character(api, alice, projectId=project, **MIRA)
    assert {key: created[key] for key in MIRA} == MIRA
    assert created["owner"] == {"id": alice.id}
    assert created["project"] == {"id": project}
    assert moment(created["updatedAt"]) >= moment(created["createdAt"])


async def test_character_reads_back_what_was_created(api: GraphQLClient, alice: Account, project: str) -> None:
    created = await create_character(api, alice, projectId=project, **MIRA)
    assert await read_character(api, alice, created["id"]) == created


async def test_a_character_without_a_project_belongs_to_no_project(api: GraphQLClient, alice: Account) -> None:
    created = await create_character(api, alice, name="Drifter")
    assert created["project"] is None
    assert (await read_character(api, alice, created["id"]))["project"] is None


async def test_a_character_with_only_a_name_has_empty_attributes(api: GraphQLClient, alice: Account) -> None:
    created = await create_character(api, alice, name="Drifter")
    assert {key: created[key] for key in MIRA} == {
        "name": "Drifter",
        "description": "",
        "appearance": "",
        "personality": "",
        "outfit": "",
        "extra": {},
    }


async def test_update_character_changes_only_what_is_given(api: GraphQLClient, alice: Account, project: str) -> None:
    created = await create_character(api, alice, projectId=project, **MIRA)
    updated = await update_character(api, alice, created["id"], personality="impatient")
    assert updated["personality"] == "impatient"
    assert {key: updated[key] for key in MIRA if key != "personality"} == {
        key: value for key, value in MIRA.items() if key != "personality"
    }
    assert updated["project"] == {"id": project}
    assert updated["createdAt"] == created["createdAt"]
    assert moment(updated["updatedAt"]) >= moment(created["updatedAt"])
    assert await read_character(api, alice, created["id"]) == updated


async def test_update_character_changes_every_attribute_at_once(api: GraphQLClient, alice: Account) -> None:
    created = await create_character(api, alice, **MIRA)
    changes = {
        "name": "Mira the Elder",
        "description": "Retired",
        "appearance": "grey hair",
        "personality": "wise",
        "outfit": "wool shawl",
        "extra": {"age": 78},
    }
    updated = await update_character(api, alice, created["id"], **changes)
    assert {key: updated[key] for key in changes} == changes


async def test_update_character_replaces_extra_as_a_whole(api: GraphQLClient, alice: Account) -> None:
    created = await create_character(api, alice, **MIRA)
    updated = await update_character(api, alice, created["id"], extra={"mood": "stormy"})
    assert updated["extra"] == {"mood": "stormy"}


async def test_update_character_can_empty_a_text(api: GraphQLClient, alice: Account) -> None:
    created = await create_character(api, alice, **MIRA)
    updated = await update_character(api, alice, created["id"], outfit="")
    assert updated["outfit"] == ""


async def test_update_character_with_null_members_leaves_them_unchanged(api: GraphQLClient, alice: Account) -> None:
    created = await create_character(api, alice, **MIRA)
    updated = await update_character(
        api, alice, created["id"], name=None, description=None, appearance=None, personality=None, outfit=None, extra=None
    )
    assert {key: updated[key] for key in MIRA} == MIRA


async def test_delete_character_removes_it(api: GraphQLClient, alice: Account, project: str) -> None:
    doomed = await create_character(api, alice, projectId=project, name="Doomed")
    kept = await create_character(api, alice, projectId=project, name="Kept")
    assert (await api.execute(DELETE_CHARACTER, {"id": doomed["id"]}, token=alice.access_token)).ok() == {
        "deleteCharacter": True
    }
    assert (await api.execute(CHARACTER, {"id": doomed["id"]}, token=alice.access_token)).error_code == "NOT_FOUND"
    listed = (await api.execute(CHARACTERS_PAGE, {}, token=alice.access_token)).ok()["characters"]
    assert listed["totalCount"] == 1
    assert listed["nodes"] == [{"id": kept["id"], "name": "Kept"}]
    in_project = await api.execute(
        "query($id: ID!) { project(id: $id) { characters { id } } }", {"id": project}, token=alice.access_token
    )
    assert in_project.ok()["project"]["characters"] == [{"id": kept["id"]}]


async def test_characters_filters_by_project(api: GraphQLClient, alice: Account) -> None:
    atlas = await api.create_project(alice, "Atlas")
    borealis = await api.create_project(alice, "Borealis")
    in_atlas = [(await create_character(api, alice, projectId=atlas, name=name))["id"] for name in ("A1", "A2")]
    in_borealis = [(await create_character(api, alice, projectId=borealis, name="B1"))["id"]]
    loose = [(await create_character(api, alice, name="Loose"))["id"]]

    async def listed(project_id: str | None) -> list[str]:
        page = (await api.execute(CHARACTERS_PAGE, {"projectId": project_id}, token=alice.access_token)).ok()[
            "characters"
        ]
        assert page["totalCount"] == len(page["nodes"])
        return [node["id"] for node in page["nodes"]]

    assert await listed(atlas) == in_atlas
    assert await listed(borealis) == in_borealis
    assert await listed(None) == in_atlas + in_borealis + loose


async def test_characters_paginate_over_three_pages(api: GraphQLClient, alice: Account) -> None:
    for i in range(6):
        await create_character(api, alice, name=f"C{i}")

    pages = []
    after = None
    while True:
        page = (
            await api.execute(CHARACTERS_PAGE, {"first": 2, "after": after}, token=alice.access_token)
        ).ok()["characters"]
        pages.append(page)
        assert page["totalCount"] == 6
        assert page["nodes"] == [edge["node"] for edge in page["edges"]]
        assert page["pageInfo"]["startCursor"] == page["edges"][0]["cursor"]
        assert page["pageInfo"]["endCursor"] == page["edges"][-1]["cursor"]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]

    assert [[node["name"] for node in page["nodes"]] for page in pages] == [["C0", "C1"], ["C2", "C3"], ["C4", "C5"]]
    assert [page["pageInfo"]["hasPreviousPage"] for page in pages] == [False, True, True]
    assert [page["pageInfo"]["hasNextPage"] for page in pages] == [True, True, False]


async def test_a_character_resolves_its_owner_and_project(api: GraphQLClient, alice: Account, project: str) -> None:
    created = await create_character(api, alice, projectId=project, name="Mira")
    read = (
        await api.execute(
            "query($id: ID!) { character(id: $id) { owner { username } project { id name flows { id } } } }",
            {"id": created["id"]},
            token=alice.access_token,
        )
    ).ok()["character"]
    assert read == {"owner": {"username": "alice"}, "project": {"id": project, "name": "Atlas", "flows": []}}


async def test_character_changes_are_logged_as_events_newest_first(
    api: GraphQLClient, alice: Account, project: str
) -> None:
    created = await create_character(api, alice, projectId=project, name="Mira")
    await update_character(api, alice, created["id"], name="Mira II")
    (await api.execute(DELETE_CHARACTER, {"id": created["id"]}, token=alice.access_token)).ok()
    loose = await create_character(api, alice, name="Loose")

    events = (
        await api.execute("{ events(first: 4) { nodes { eventName projectId payload } } }", token=alice.access_token)
    ).ok()["events"]["nodes"]
    assert events == [
        {"eventName": "character.created", "projectId": None, "payload": {"characterId": loose["id"], "name": "Loose"}},
        {"eventName": "character.deleted", "projectId": project, "payload": {"characterId": created["id"], "name": "Mira II"}},
        {"eventName": "character.updated", "projectId": project, "payload": {"characterId": created["id"], "name": "Mira II"}},
        {"eventName": "character.created", "projectId": project, "payload": {"characterId": created["id"], "name": "Mira"}},
    ]
