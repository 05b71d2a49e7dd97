"""Every user-owned object is its owner's alone (ARCHITECTURE.md, "Accounts and ownership").

Another user's id reads as NOT_FOUND and changes nothing; an anonymous caller is
UNAUTHENTICATED; lists hold only the caller's objects; backoffice users read everyone's.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt
import pytest
from starlette.applications import Starlette

from services.accounts.tokens import TokenCodec
from tests.api_fixtures import TEST_SECRET_KEY, backoffice_token
from tests.graphql_client import Account, GraphQLClient

# Everything a user can see of their own, in one read: compared before and after a refused call.
# Everything a user can see of their own, read before and after a refused call and compared.
# One request per root field: several root fields in one request hit a PostgreSQL race in the
# server (see test_users.py::test_one_request_reads_several_root_fields), which must not hide
# what these tests check.
STATE_PARTS = [
    "{ me { id username email } }",
    "{ projects(first: 100) { totalCount nodes { id name description updatedAt } } }",
    "{ flows(first: 100) { totalCount nodes { id name graphData providerId version updatedAt project { id } } } }",
    "{ characters(first: 100) { totalCount nodes { id name description appearance personality outfit extra"
    " updatedAt project { id } } } }",
    "{ events(first: 100) { totalCount nodes { id eventName payload } } }",
]

CREATE_PROJECT = "mutation($name: String!) { createProject(input: {name: $name}) { id } }"
CREATE_FLOW = """
mutation($projectId: ID!, $name: String!) {
  createFlow(input: {projectId: $projectId, name: $name, providerId: "mistral",
                     graphData: {nodes: [{id: "n1", type: "textInput", position: {x: 1, y: 2}, data: {}}]}}) {
    id
  }
}
"""
CREATE_CHARACTER = """
mutation($projectId: ID!, $name: String!) {
  createCharacter(input: {projectId: $projectId, name: $name, personality: "stubborn"}) { id }
}
"""
BACKOFFICE_LOGIN = """
mutation($identifier: String!, $password: String!) {
  backofficeLogin(input: {identifier: $identifier, password: $password}) { accessToken }
}
"""
CREATE_BACKOFFICE_USER = """
mutation($username: String!) {
  createBackofficeUser(input: {email: "ops@example.com", username: $username,
                               password: "another long passphrase"}) { id username }
}
"""


@dataclass(frozen=True)
class Holdings:
    """A user and the project, flow and character they own."""

    account: Account
    project: str
    flow: str
    character: str


@dataclass(frozen=True)
class World:
    alice: Holdings
    bob: Holdings


async def state(api: GraphQLClient, account: Account) -> dict[str, Any]:
    snapshot: dict[str, Any] = {}
    for part in STATE_PARTS:
        snapshot.update((await api.execute(part, token=account.access_token)).ok())
    return snapshot


async def holdings(api: GraphQLClient, username: str) -> Holdings:
    account = await api.signup(username)
    token = account.access_token
    label = username.capitalize()
    project = (await api.execute(CREATE_PROJECT, {"name": f"{label}'s project"}, token=token)).ok()
    project_id = project["createProject"]["id"]
    flow = (
        await api.execute(CREATE_FLOW, {"projectId": project_id, "name": f"{label}'s flow"}, token=token)
    ).ok()
    character = (
        await api.execute(
            CREATE_CHARACTER, {"projectId": project_id, "name": f"{label}'s character"}, token=token
        )
    ).ok()
    return Holdings(account, project_id, flow["createFlow"]["id"], character["createCharacter"]["id"])


@pytest.fixture
async def world(api: GraphQLClient) -> World:
    return World(alice=await holdings(api, "alice"), bob=await holdings(api, "bob"))


Variables = Callable[[Holdings], dict[str, Any]]

# Every operation that names one of a user's objects: (query, variables naming the owner's object).
OPERATIONS_ON_OWNED_OBJECTS = [
    pytest.param(
        "query($id: ID!) { project(id: $id) { id name } }",
        lambda h: {"id": h.project},
        id="project",
    ),
    pytest.param(
        'mutation($id: ID!) { updateProject(id: $id, input: {name: "Taken over"}) { id name } }',
        lambda h: {"id": h.project},
        id="updateProject",
    ),
    pytest.param(
        "mutation($id: ID!) { deleteProject(id: $id) }",
        lambda h: {"id": h.project},
        id="deleteProject",
    ),
    pytest.param(
        "query($id: ID!) { flow(id: $id) { id name graphData } }",
        lambda h: {"id": h.flow},
        id="flow",
    ),
    pytest.param(
        'mutation($id: ID!) { updateFlow(id: $id, input: {version: 1, name: "Taken over"}) { id } }',
        lambda h: {"id": h.flow},
        id="updateFlow",
    ),
    pytest.param(
        "mutation($id: ID!) { deleteFlow(id: $id) }",
        lambda h: {"id": h.flow},
        id="deleteFlow",
    ),
    pytest.param(
        'mutation($projectId: ID!) { createFlow(input: {projectId: $projectId, name: "Planted"}) { id } }',
        lambda h: {"projectId": h.project},
        id="createFlow-into-project",
    ),
    pytest.param(
        "query($id: ID!) { character(id: $id) { id name personality } }",
        lambda h: {"id": h.character},
        id="character",
    ),
    pytest.param(
        'mutation($id: ID!) { updateCharacter(id: $id, input: {name: "Taken over"}) { id } }',
        lambda h: {"id": h.character},
        id="updateCharacter",
    ),
    pytest.param(
        "mutation($id: ID!) { deleteCharacter(id: $id) }",
        lambda h: {"id": h.character},
        id="deleteCharacter",
    ),
    pytest.param(
        'mutation($projectId: ID!) { createCharacter(input: {projectId: $projectId, name: "Planted"}) { id } }',
        lambda h: {"projectId": h.project},
        id="createCharacter-into-project",
    ),
    pytest.param(
        "query($projectId: ID!) { flows(projectId: $projectId) { totalCount nodes { id name } } }",
        lambda h: {"projectId": h.project},
        id="flows-of-project",
    ),
    pytest.param(
        "query($projectId: ID!) { characters(projectId: $projectId) { totalCount nodes { id name } } }",
        lambda h: {"projectId": h.project},
        id="characters-of-project",
    ),
    pytest.param(
        "query($id: ID!) { user(id: $id) { id username email } }",
        lambda h: {"id": h.account.id},
        id="user",
    ),
    pytest.param(
        "mutation($id: ID!) { deleteUser(id: $id) }",
        lambda h: {"id": h.account.id},
        id="deleteUser",
    ),
]

# Operations that need a signed-in caller but name no object.
OPERATIONS_WITHOUT_IDS = [
    pytest.param("{ me { id } }", id="me"),
    pytest.param("{ projects { totalCount } }", id="projects"),
    pytest.param("{ flows { totalCount } }", id="flows"),
    pytest.param("{ characters { totalCount } }", id="characters"),
    pytest.param("{ events { totalCount } }", id="events"),
    pytest.param('mutation { createProject(input: {name: "Anonymous"}) { id } }', id="createProject"),
    pytest.param(
        'mutation { createCharacter(input: {name: "Anonymous"}) { id } }', id="createCharacter-no-project"
    ),
]


# -- another user -------------------------------------------------------------------------------


@pytest.mark.parametrize(("query", "variables_of"), OPERATIONS_ON_OWNED_OBJECTS)
async def test_another_users_object_is_not_found_and_stays_unchanged(
    api: GraphQLClient, world: World, query: str, variables_of: Variables
) -> None:
    alice_before = await state(api, world.alice.account)
    bob_before = await state(api, world.bob.account)

    result = await api.execute(query, variables_of(world.alice), token=world.bob.account.access_token)

    assert result.error_code == "NOT_FOUND"
    assert result.data is None
    assert "alice" not in str(result.body).lower()
    assert await state(api, world.alice.account) == alice_before
    assert await state(api, world.bob.account) == bob_before


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("query($id: ID!) { project(id: $id) { id } }", "project"),
        ("query($id: ID!) { flow(id: $id) { id } }", "flow"),
        ("query($id: ID!) { character(id: $id) { id } }", "character"),
        ("query($id: ID!) { user(id: $id) { id } }", "account"),
    ],
    ids=["project", "flow", "character", "user"],
)
async def test_another_users_object_reads_exactly_like_a_missing_one(
    api: GraphQLClient, world: World, query: str, field: str
) -> None:
    """No hint that the object exists: the answer is the one a made-up id gets."""
    owned = getattr(world.alice, field)
    real_id = owned.id if isinstance(owned, Account) else owned
    missing_id = "987654321" if field in ("project", "account") else str(uuid.uuid4())
    token = world.bob.account.access_token

    for_real = await api.execute(query, {"id": real_id}, token=token)
    for_missing = await api.execute(query, {"id": missing_id}, token=token)

    assert for_real.error_code == for_missing.error_code == "NOT_FOUND"
    assert for_real.errors[0]["message"].replace(real_id, "<id>") == for_missing.errors[0][
        "message"
    ].replace(missing_id, "<id>")


# -- anonymous callers --------------------------------------------------------------------------


@pytest.mark.parametrize(("query", "variables_of"), OPERATIONS_ON_OWNED_OBJECTS)
async def test_an_anonymous_caller_is_unauthenticated_and_changes_nothing(
    api: GraphQLClient, world: World, query: str, variables_of: Variables
) -> None:
    before = await state(api, world.alice.account)

    result = await api.execute(query, variables_of(world.alice))

    assert result.error_code == "UNAUTHENTICATED"
    assert result.data is None
    assert await state(api, world.alice.account) == before


@pytest.mark.parametrize("query", OPERATIONS_WITHOUT_IDS)
async def test_an_anonymous_caller_cannot_list_or_create(
    api: GraphQLClient, world: World, query: str
) -> None:
    before = await state(api, world.alice.account)

    result = await api.execute(query)

    assert result.error_code == "UNAUTHENTICATED"
    assert result.data is None
    assert await state(api, world.alice.account) == before


# -- lists --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "connection", "attribute"),
    [
        ("{ projects { totalCount nodes { id } } }", "projects", "project"),
        ("{ flows { totalCount nodes { id } } }", "flows", "flow"),
        ("{ characters { totalCount nodes { id } } }", "characters", "character"),
    ],
    ids=["projects", "flows", "characters"],
)
async def test_a_list_shows_only_the_callers_own_objects(
    api: GraphQLClient, world: World, query: str, connection: str, attribute: str
) -> None:
    for holder in (world.alice, world.bob):
        listed = (await api.execute(query, token=holder.account.access_token)).ok()[connection]
        assert listed == {"totalCount": 1, "nodes": [{"id": getattr(holder, attribute)}]}


async def test_the_event_log_shows_only_the_callers_own_events(api: GraphQLClient, world: World) -> None:
    query = "{ events { totalCount nodes { eventName projectId payload } } }"
    for holder in (world.alice, world.bob):
        events = (await api.execute(query, token=holder.account.access_token)).ok()["events"]
        assert [event["eventName"] for event in events["nodes"]] == [
            "character.created",
            "flow.created",
            "project.created",
            "user.created",
        ]
        assert events["totalCount"] == 4
        character, flow, project, user = events["nodes"]
        assert character["payload"]["characterId"] == holder.character
        assert flow["payload"]["flowId"] == holder.flow
        assert project["payload"]["projectId"] == int(holder.project)
        assert {character["projectId"], flow["projectId"], project["projectId"]} == {holder.project}
        assert user["payload"]["username"] == holder.account.username


async def test_a_projects_nested_lists_hold_only_its_own_flows_and_characters(
    api: GraphQLClient, world: World
) -> None:
    query = "query($id: ID!) { project(id: $id) { flows { id } characters { id } owner { id } } }"
    project = (
        await api.execute(query, {"id": world.alice.project}, token=world.alice.account.access_token)
    ).ok()["project"]
    assert project == {
        "flows": [{"id": world.alice.flow}],
        "characters": [{"id": world.alice.character}],
        "owner": {"id": world.alice.account.id},
    }


# -- backoffice users ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "variables_of", "read"),
    [
        pytest.param(
            "query($id: ID!) { project(id: $id) { id name owner { username } } }",
            lambda h: {"id": h.project},
            lambda data: (data["project"]["name"], data["project"]["owner"]["username"]),
            id="project",
        ),
        pytest.param(
            "query($id: ID!) { flow(id: $id) { id name owner { username } } }",
            lambda h: {"id": h.flow},
            lambda data: (data["flow"]["name"], data["flow"]["owner"]["username"]),
            id="flow",
        ),
        pytest.param(
            "query($id: ID!) { character(id: $id) { id name owner { username } } }",
            lambda h: {"id": h.character},
            lambda data: (data["character"]["name"], data["character"]["owner"]["username"]),
            id="character",
        ),
        pytest.param(
            "query($id: ID!) { user(id: $id) { id email username } }",
            lambda h: {"id": h.account.id},
            lambda data: (data["user"]["email"], data["user"]["username"]),
            id="user",
        ),
    ],
)
async def test_a_backoffice_user_reads_any_users_objects(
    api: GraphQLClient, app: Starlette, world: World, query: str, variables_of: Variables, read: Callable
) -> None:
    token = await backoffice_token(api, app)
    data = (await api.execute(query, variables_of(world.alice), token=token)).ok()
    first, owner = read(data)
    assert owner == "alice"
    assert first in ("Alice's project", "Alice's flow", "Alice's character", "alice@example.com")


async def test_a_backoffice_user_lists_everyones_projects(
    api: GraphQLClient, app: Starlette, world: World
) -> None:
    token = await backoffice_token(api, app)
    listed = (await api.execute("{ projects { totalCount nodes { id } } }", token=token)).ok()["projects"]
    assert listed["totalCount"] == 2
    assert {node["id"] for node in listed["nodes"]} == {world.alice.project, world.bob.project}


async def test_a_backoffice_user_deletes_another_user(api: GraphQLClient, app: Starlette, world: World) -> None:
    token = await backoffice_token(api, app)
    deleted = await api.execute("mutation($id: ID!) { deleteUser(id: $id) }", {"id": world.alice.account.id}, token=token)
    assert deleted.ok() == {"deleteUser": True}
    gone = await api.execute("query($id: ID!) { user(id: $id) { id } }", {"id": world.alice.account.id}, token=token)
    assert gone.error_code == "NOT_FOUND"
    assert (await state(api, world.bob.account))["projects"]["totalCount"] == 1


async def test_create_backoffice_user_without_a_token_is_unauthenticated(
    api: GraphQLClient, app: Starlette
) -> None:
    result = await api.execute(CREATE_BACKOFFICE_USER, {"username": "ops"})
    assert result.error_code == "UNAUTHENTICATED"
    assert result.data is None
    await _assert_no_backoffice_user_named_ops(api, app)


async def test_create_backoffice_user_with_a_user_token_is_forbidden(
    api: GraphQLClient, app: Starlette, world: World
) -> None:
    before = await state(api, world.alice.account)
    result = await api.execute(CREATE_BACKOFFICE_USER, {"username": "ops"}, token=world.alice.account.access_token)
    assert result.error_code == "FORBIDDEN"
    assert result.data is None
    await _assert_no_backoffice_user_named_ops(api, app)
    assert await state(api, world.alice.account) == before


async def _assert_no_backoffice_user_named_ops(api: GraphQLClient, app: Starlette) -> None:
    login = await api.execute(BACKOFFICE_LOGIN, {"identifier": "ops", "password": "another long passphrase"})
    assert login.error_code == "UNAUTHENTICATED"
    # The name is still free: a real backoffice user can take it.
    token = await backoffice_token(api, app, "root")
    created = await api.execute(CREATE_BACKOFFICE_USER, {"username": "ops"}, token=token)
    assert created.ok()["createBackofficeUser"]["username"] == "ops"


async def test_a_refresh_token_is_refused_as_an_access_token(api: GraphQLClient, world: World) -> None:
    result = await api.execute(
        "query($id: ID!) { project(id: $id) { id } }",
        {"id": world.alice.project},
        token=world.alice.account.refresh_token,
    )
    assert result.error_code == "UNAUTHENTICATED"
    assert result.data is None


async def test_a_user_token_does_not_pass_for_a_backoffice_token(api: GraphQLClient, app: Starlette) -> None:
    """A token signed with the server's key that names a backoffice account's id and session, but
    says it is a user token, gets no backoffice powers: the kind is part of who the caller is."""
    admin_token = await backoffice_token(api, app)
    admin_claims = jwt.decode(admin_token, options={"verify_signature": False})
    as_user, _ = TokenCodec(TEST_SECRET_KEY).issue(
        "access",
        account_kind="user",
        account_id=int(admin_claims["sub"]),
        session_id=uuid.UUID(admin_claims["sid"]),
    )
    result = await api.execute(CREATE_BACKOFFICE_USER, {"username": "ops"}, token=as_user)
    assert result.error_code in ("UNAUTHENTICATED", "FORBIDDEN")
    assert result.data is None
    login = await api.execute(BACKOFFICE_LOGIN, {"identifier": "ops", "password": "another long passphrase"})
    assert login.error_code == "UNAUTHENTICATED"
