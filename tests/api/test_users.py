"""Users over the API: signup, me, user(id), deleteUser (and all the user owns), the event log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.applications import Starlette

from tests.api_fixtures import backoffice_token
from tests.graphql_client import PASSWORD, Account, GraphQLClient


def moment(timestamp: str) -> datetime:
    return datetime.fromisoformat(timestamp)

SIGNUP = """
mutation($input: SignupInput!) {
  signup(input: $input) {
    accessToken refreshToken expiresIn
    user { __typename id email username createdAt }
  }
}
"""
LOGIN = """
mutation($identifier: String!, $password: String!) {
  login(input: {identifier: $identifier, password: $password}) { accessToken user { id } }
}
"""
BACKOFFICE_LOGIN = """
mutation($identifier: String!, $password: String!) {
  backofficeLogin(input: {identifier: $identifier, password: $password}) { accessToken }
}
"""
ME = "{ me { id email username createdAt } }"
USER = "query($id: ID!) { user(id: $id) { id email username createdAt } }"
DELETE_USER = "mutation($id: ID!) { deleteUser(id: $id) }"
CREATE_PROJECT = "mutation($name: String!) { createProject(input: {name: $name}) { id } }"
CREATE_FLOW = 'mutation($projectId: ID!) { createFlow(input: {projectId: $projectId, name: "Flow"}) { id } }'
CREATE_CHARACTER = 'mutation($projectId: ID) { createCharacter(input: {projectId: $projectId, name: "Mira"}) { id } }'
EVENTS_PAGE = """
query($first: Int, $after: String) {
  events(first: $first, after: $after) {
    totalCount
    edges { cursor node { id eventName payload createdAt } }
    nodes { id eventName payload createdAt }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}
"""


async def fill(api: GraphQLClient, account: Account) -> dict[str, list[str]]:
    """Two projects, each with a flow and a character, and a character of no project."""
    token = account.access_token
    owned: dict[str, list[str]] = {"projects": [], "flows": [], "characters": []}
    for name in ("One", "Two"):
        project_id = (await api.execute(CREATE_PROJECT, {"name": name}, token=token)).ok()["createProject"]["id"]
        owned["projects"].append(project_id)
        owned["flows"].append((await api.execute(CREATE_FLOW, {"projectId": project_id}, token=token)).ok()["createFlow"]["id"])
        owned["characters"].append(
            (await api.execute(CREATE_CHARACTER, {"projectId": project_id}, token=token)).ok()["createCharacter"]["id"]
        )
    owned["characters"].append(
        (await api.execute(CREATE_CHARACTER, {"projectId": None}, token=token)).ok()["createCharacter"]["id"]
    )
    return owned


async def test_signup_returns_the_user_and_a_token_pair(api: GraphQLClient) -> None:
    result = await api.execute(
        SIGNUP, {"input": {"email": "Alice@Example.com", "username": "alice", "password": PASSWORD}}
    )
    payload = result.ok()["signup"]
    user = payload["user"]
    assert user["__typename"] == "User"
    assert user["email"] == "alice@example.com"
    assert user["username"] == "alice"
    created = datetime.fromisoformat(user["createdAt"])
    assert abs(datetime.now(UTC) - created) < timedelta(minutes=1)
    assert payload["expiresIn"] == 30 * 60
    assert payload["accessToken"] and payload["refreshToken"]
    assert payload["accessToken"] != payload["refreshToken"]


async def test_me_returns_the_signed_in_user(api: GraphQLClient) -> None:
    alice = await api.signup("alice")
    me = (await api.execute(ME, token=alice.access_token)).ok()["me"]
    assert (me["id"], me["email"], me["username"]) == (alice.id, "alice@example.com", "alice")


async def test_me_after_login_is_the_same_user(api: GraphQLClient) -> None:
    alice = await api.signup("alice")
    login = (await api.execute(LOGIN, {"identifier": "alice", "password": PASSWORD})).ok()["login"]
    assert login["user"]["id"] == alice.id
    me = (await api.execute(ME, token=login["accessToken"])).ok()["me"]
    assert me["id"] == alice.id


async def test_user_by_id_returns_oneself(api: GraphQLClient) -> None:
    alice = await api.signup("alice")
    me = (await api.execute(ME, token=alice.access_token)).ok()["me"]
    assert (await api.execute(USER, {"id": alice.id}, token=alice.access_token)).ok()["user"] == me


async def test_users_get_distinct_ids(api: GraphQLClient) -> None:
    alice = await api.signup("alice")
    bob = await api.signup("bob")
    assert alice.id != bob.id
    assert (await api.execute(ME, token=bob.access_token)).ok()["me"]["username"] == "bob"


async def test_delete_user_deletes_oneself(api: GraphQLClient) -> None:
    alice = await api.signup("alice")
    assert (await api.execute(DELETE_USER, {"id": alice.id}, token=alice.access_token)).ok() == {"deleteUser": True}
    # The account is gone: its token no longer works and its credentials no longer log in.
    assert (await api.execute(ME, token=alice.access_token)).error_code == "UNAUTHENTICATED"
    assert (await api.execute(LOGIN, {"identifier": "alice", "password": PASSWORD})).error_code == "UNAUTHENTICATED"
    refresh = await api.execute(
        "mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken } }", {"t": alice.refresh_token}
    )
    assert refresh.error_code == "UNAUTHENTICATED"


async def test_a_deleted_users_email_and_username_can_be_used_again(api: GraphQLClient) -> None:
    alice = await api.signup("alice")
    (await api.execute(DELETE_USER, {"id": alice.id}, token=alice.access_token)).ok()
    again = await api.signup("alice")
    assert (await api.execute("{ projects { totalCount } }", token=again.access_token)).ok()["projects"][
        "totalCount"
    ] == 0


async def test_deleting_a_user_deletes_everything_they_own(api: GraphQLClient, app: Starlette) -> None:
    alice = await api.signup("alice")
    bob = await api.signup("bob")
    alices = await fill(api, alice)
    bobs = await fill(api, bob)
    root = await backoffice_token(api, app)

    (await api.execute(DELETE_USER, {"id": alice.id}, token=alice.access_token)).ok()

    # A backoffice user sees everyone's objects: only Bob's remain, and none of Alice's ids resolve.
    everything: dict[str, Any] = {}
    for connection in ("projects", "flows", "characters"):
        everything.update((await api.execute(f"{{ {connection}(first: 100) {{ nodes {{ id }} }} }}", token=root)).ok())
    for kind in ("projects", "flows", "characters"):
        assert sorted(node["id"] for node in everything[kind]["nodes"]) == sorted(bobs[kind])
    for kind, field in (("projects", "project"), ("flows", "flow"), ("characters", "character")):
        for object_id in alices[kind]:
            result = await api.execute(f"query($id: ID!) {{ {field}(id: $id) {{ id }} }}", {"id": object_id}, token=root)
            assert result.error_code == "NOT_FOUND", (kind, object_id)
    assert (await api.execute(USER, {"id": alice.id}, token=root)).error_code == "NOT_FOUND"
    assert (await api.execute(USER, {"id": bob.id}, token=root)).ok()["user"]["username"] == "bob"


async def test_deleting_a_user_deletes_their_event_log(api: GraphQLClient, app: Starlette) -> None:
    alice = await api.signup("alice")
    bob = await api.signup("bob")
    await fill(api, alice)
    await fill(api, bob)
    root = await backoffice_token(api, app)
    alices_events = (await api.execute(EVENTS_PAGE, {"first": 100}, token=alice.access_token)).ok()["events"]["nodes"]
    bobs_events = (await api.execute(EVENTS_PAGE, {"first": 100}, token=bob.access_token)).ok()["events"]["nodes"]
    assert len(alices_events) == 8  # user.created, 2 projects, 2 flows, 3 characters

    (await api.execute(DELETE_USER, {"id": alice.id}, token=alice.access_token)).ok()

    everyones = (await api.execute(EVENTS_PAGE, {"first": 100}, token=root)).ok()["events"]["nodes"]
    remaining_ids = {event["id"] for event in everyones}
    assert remaining_ids.isdisjoint(event["id"] for event in alices_events)
    assert {event["id"] for event in bobs_events} <= remaining_ids
    deletion = [event for event in everyones if event["eventName"] == "user.deleted"]
    assert [event["payload"] for event in deletion] == [{"userId": int(alice.id), "by": "user"}]


async def test_a_deleted_users_access_token_does_not_open_a_later_account(api: GraphQLClient) -> None:
    """Alice's access token outlives her account by up to 30 minutes; whoever signs up next, even
    when the database hands them Alice's old id, must not be reachable with it."""
    alice = await api.signup("alice")
    (await api.execute(DELETE_USER, {"id": alice.id}, token=alice.access_token)).ok()
    carol = await api.signup("carol")
    (await api.execute(CREATE_PROJECT, {"name": "Carol's secret"}, token=carol.access_token)).ok()

    me = await api.execute(ME, token=alice.access_token)
    assert me.error_code == "UNAUTHENTICATED", (carol.id, me.body)
    projects = await api.execute("{ projects { nodes { name } } }", token=alice.access_token)
    assert projects.error_code == "UNAUTHENTICATED", projects.body


async def test_a_backoffice_user_deletes_a_user_and_what_they_own(api: GraphQLClient, app: Starlette) -> None:
    alice = await api.signup("alice")
    alices = await fill(api, alice)
    root = await backoffice_token(api, app)

    assert (await api.execute(DELETE_USER, {"id": alice.id}, token=root)).ok() == {"deleteUser": True}

    assert (await api.execute(ME, token=alice.access_token)).error_code == "UNAUTHENTICATED"
    totals: dict[str, Any] = {}
    for connection in ("projects", "flows", "characters"):
        totals.update((await api.execute(f"{{ {connection} {{ totalCount }} }}", token=root)).ok())
    assert totals == {"projects": {"totalCount": 0}, "flows": {"totalCount": 0}, "characters": {"totalCount": 0}}
    assert alices["projects"]


async def test_a_backoffice_user_reads_any_user_by_id(api: GraphQLClient, app: Starlette) -> None:
    alice = await api.signup("alice")
    root = await backoffice_token(api, app)
    user = (await api.execute(USER, {"id": alice.id}, token=root)).ok()["user"]
    assert (user["id"], user["email"], user["username"]) == (alice.id, "alice@example.com", "alice")


async def test_signup_is_logged_as_the_users_first_event(api: GraphQLClient) -> None:
    alice = await api.signup("alice")
    events = (await api.execute(EVENTS_PAGE, {}, token=alice.access_token)).ok()["events"]
    assert events["totalCount"] == 1
    assert events["nodes"][0]["eventName"] == "user.created"
    assert events["nodes"][0]["payload"] == {"accountId": int(alice.id), "username": "alice"}


async def test_events_list_the_users_domain_events_newest_first(api: GraphQLClient) -> None:
    alice = await api.signup("alice")
    token = alice.access_token
    project_id = (await api.execute(CREATE_PROJECT, {"name": "Atlas"}, token=token)).ok()["createProject"]["id"]
    flow_id = (await api.execute(CREATE_FLOW, {"projectId": project_id}, token=token)).ok()["createFlow"]["id"]
    (
        await api.execute(
            'mutation($id: ID!) { updateFlow(id: $id, input: {version: 1, name: "Renamed"}) { id } }',
            {"id": flow_id},
            token=token,
        )
    ).ok()
    (await api.execute(CREATE_CHARACTER, {"projectId": project_id}, token=token)).ok()
    (
        await api.execute(
            'mutation($id: ID!) { updateProject(id: $id, input: {description: "d"}) { id } }', {"id": project_id}, token=token
        )
    ).ok()

    events = (await api.execute(EVENTS_PAGE, {}, token=token)).ok()["events"]
    assert [event["eventName"] for event in events["nodes"]] == [
        "project.updated",
        "character.created",
        "flow.updated",
        "flow.created",
        "project.created",
        "user.created",
    ]
    timestamps = [moment(event["createdAt"]) for event in events["nodes"]]
    assert timestamps == sorted(timestamps, reverse=True)


async def test_events_paginate_over_three_pages(api: GraphQLClient) -> None:
    alice = await api.signup("alice")
    for i in range(4):
        (await api.execute(CREATE_PROJECT, {"name": f"P{i}"}, token=alice.access_token)).ok()
    # Five events: user.created and four project.created.

    pages = []
    after = None
    while True:
        page = (await api.execute(EVENTS_PAGE, {"first": 2, "after": after}, token=alice.access_token)).ok()["events"]
        pages.append(page)
        assert page["totalCount"] == 5
        assert page["nodes"] == [edge["node"] for edge in page["edges"]]
        assert page["pageInfo"]["startCursor"] == page["edges"][0]["cursor"]
        assert page["pageInfo"]["endCursor"] == page["edges"][-1]["cursor"]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]

    def label(event: dict[str, Any]) -> str:
        return event["payload"].get("name") or event["eventName"]

    assert [[label(node) for node in page["nodes"]] for page in pages] == [
        ["P3", "P2"],
        ["P1", "P0"],
        ["user.created"],
    ]
    assert [page["pageInfo"]["hasPreviousPage"] for page in pages] == [False, True, True]
    assert len({node["id"] for page in pages for node in page["nodes"]}) == 5


async def test_a_refused_mutation_leaves_no_event(api: GraphQLClient) -> None:
    alice = await api.signup("alice")
    refused = await api.execute(CREATE_PROJECT, {"name": ""}, token=alice.access_token)
    assert refused.error_code == "BAD_USER_INPUT"
    events = (await api.execute(EVENTS_PAGE, {}, token=alice.access_token)).ok()["events"]
    assert [event["eventName"] for event in events["nodes"]] == ["user.created"]


async def test_one_request_reads_several_root_fields(api: GraphQLClient) -> None:
    """What an editor's dashboard asks in one request. Root query fields resolve concurrently; each
    must get its answer (repeated, because a race between them shows only now and then)."""
    alice = await api.signup("alice")
    (await api.execute(CREATE_PROJECT, {"name": "Atlas"}, token=alice.access_token)).ok()
    query = (
        "{ me { username } projects { totalCount } flows { totalCount } characters { totalCount }"
        " events { totalCount } }"
    )
    for _ in range(10):
        result = await api.execute(query, token=alice.access_token)
        assert result.ok() == {
            "me": {"username": "alice"},
            "projects": {"totalCount": 1},
            "flows": {"totalCount": 0},
            "characters": {"totalCount": 0},
            "events": {"totalCount": 2},
        }
