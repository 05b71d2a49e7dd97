"""Every bad input gets a clear error naming the field, and changes nothing (ARCHITECTURE.md, "Limits").

Each test reads the caller's whole visible state (objects, counts, and the `events` log) before
and after the refused request and requires it to be the same.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from services.accounts.tokens import TokenCodec
from tests import api_fixtures
from tests.api_fixtures import TEST_SECRET_KEY
from tests.graphql_client import PASSWORD, Account, GraphQLClient
from web.app import create_app

MAX_TEXT_LENGTH = 100_000
MAX_NAME_LENGTH = 200

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

CREATE_PROJECT = """
mutation($input: CreateProjectInput!) { createProject(input: $input) { id name description } }
"""
UPDATE_PROJECT = """
mutation($id: ID!, $input: UpdateProjectInput!) { updateProject(id: $id, input: $input) { id } }
"""
CREATE_FLOW = """
mutation($input: CreateFlowInput!) { createFlow(input: $input) { id version graphData providerId } }
"""
UPDATE_FLOW = """
mutation($id: ID!, $input: UpdateFlowInput!) { updateFlow(id: $id, input: $input) { id version } }
"""
CREATE_CHARACTER = """
mutation($input: CreateCharacterInput!) { createCharacter(input: $input) { id } }
"""
UPDATE_CHARACTER = """
mutation($id: ID!, $input: UpdateCharacterInput!) { updateCharacter(id: $id, input: $input) { id } }
"""
SIGNUP = """
mutation($input: SignupInput!) { signup(input: $input) { accessToken user { id } } }
"""
LOGIN = """
mutation($identifier: String!, $password: String!) {
  login(input: {identifier: $identifier, password: $password}) { accessToken }
}
"""

GRAPH = {
    "nodes": [
        {"id": "a", "type": "textInput", "position": {"x": 0, "y": 0}, "data": {"text": "hello"}},
        {"id": "b", "type": "textOutput", "position": {"x": 200, "y": 0}, "data": {}},
    ],
    "edges": [{"id": "e1", "source": "a", "target": "b", "sourceHandle": "text", "targetHandle": "text"}],
    "viewport": {"x": 0, "y": 0, "zoom": 1},
}


class Alice:
    """A signed-up user who owns one project, one flow in it and one character."""

    def __init__(self, account: Account, project: str, flow: str, character: str) -> None:
        self.account = account
        self.token = account.access_token
        self.project = project
        self.flow = flow
        self.character = character


async def make_alice(api: GraphQLClient) -> Alice:
    account = await api.signup("alice")
    token = account.access_token
    project = (await api.execute(CREATE_PROJECT, {"input": {"name": "Atlas"}}, token=token)).ok()
    project_id = project["createProject"]["id"]
    flow = (
        await api.execute(
            CREATE_FLOW,
            {"input": {"projectId": project_id, "name": "Draft", "graphData": GRAPH, "providerId": "mistral"}},
            token=token,
        )
    ).ok()
    character = (
        await api.execute(
            CREATE_CHARACTER, {"input": {"projectId": project_id, "name": "Mira"}}, token=token
        )
    ).ok()
    return Alice(account, project_id, flow["createFlow"]["id"], character["createCharacter"]["id"])


@pytest.fixture
async def alice(api: GraphQLClient) -> Alice:
    return await make_alice(api)


async def state(api: GraphQLClient, token: str) -> dict[str, Any]:
    snapshot: dict[str, Any] = {}
    for part in STATE_PARTS:
        snapshot.update((await api.execute(part, token=token)).ok())
    return snapshot


def assert_bad_input(result: Any, field: str | None) -> None:
    assert result.error_code == "BAD_USER_INPUT", result.body
    assert result.data is None
    if field is not None:
        extensions = result.errors[0]["extensions"]
        assert extensions.get("field") == field, result.errors
        assert field in result.errors[0]["message"]


@pytest.fixture
async def small_api(database_url: str, workdir: Path, engine: AsyncEngine) -> AsyncIterator[GraphQLClient]:
    """The app with small limits set through the settings: 5 nodes, 5 edges, 50-character texts."""
    settings = api_fixtures.settings_for(
        database_url, workdir, MAX_GRAPH_NODES="5", MAX_GRAPH_EDGES="5", MAX_TEXT_LENGTH="50"
    )
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application, client=("203.0.113.8", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield GraphQLClient(http)


# -- malformed requests -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b'{"query": "mutation { createProject(input: {name: \\"Leak\\"}) { id } }"', id="truncated"),
        pytest.param(b"{'query': 'mutation { createProject(input: {name: \\\"Leak\\\"}) { id } }'}", id="single-quotes"),
        pytest.param(b'{"query": "mutation { createProject(input: {name: \\"Leak\\"}) { id } }",}', id="trailing-comma"),
        pytest.param(b"createProject Leak", id="not-json"),
        pytest.param(b"", id="empty"),
        pytest.param(b"\xff\xfe{}", id="not-utf8"),
    ],
)
async def test_a_malformed_json_body_gets_a_4xx_and_changes_nothing(
    api: GraphQLClient, alice: Alice, body: bytes
) -> None:
    before = await state(api, alice.token)
    response = await api.http.post(
        "/graphql",
        content=body,
        headers={"content-type": "application/json", "authorization": f"Bearer {alice.token}"},
    )
    assert 400 <= response.status_code < 500
    assert "Traceback" not in response.text
    assert await state(api, alice.token) == before


async def test_a_graphql_syntax_error_is_bad_user_input_and_changes_nothing(api: GraphQLClient, alice: Alice) -> None:
    before = await state(api, alice.token)
    result = await api.execute("mutation { createProject(input: {name: 'Leak'}) { id } }", token=alice.token)
    assert_bad_input(result, None)
    assert "Syntax Error" in result.errors[0]["message"]
    assert await state(api, alice.token) == before


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param({"query": 42}, id="query-not-a-string"),
        pytest.param({"variables": {}}, id="no-query"),
        pytest.param(
            {"query": 'mutation { createProject(input: {name: "Leak"}) { id } }', "variables": "oops"},
            id="variables-not-an-object",
        ),
        pytest.param([{"query": 'mutation { createProject(input: {name: "Leak"}) { id } }'}], id="batch"),
    ],
)
async def test_a_json_body_of_the_wrong_shape_is_refused_and_changes_nothing(
    api: GraphQLClient, alice: Alice, payload: Any
) -> None:
    before = await state(api, alice.token)
    response = await api.http.post(
        "/graphql", json=payload, headers={"authorization": f"Bearer {alice.token}"}
    )
    assert 400 <= response.status_code < 500
    assert "Traceback" not in response.text
    assert await state(api, alice.token) == before


@pytest.mark.parametrize(
    ("query", "variables", "named"),
    [
        pytest.param(CREATE_PROJECT, {"input": {"name": 123}}, "name", id="number-for-string"),
        pytest.param(CREATE_PROJECT, {"input": {"name": None}}, "name", id="null-for-required"),
        pytest.param(CREATE_PROJECT, {"input": {"description": "no name"}}, "name", id="missing-required"),
        pytest.param(CREATE_PROJECT, {"input": {"name": "x", "owner": 2}}, "owner", id="unknown-field"),
        pytest.param(CREATE_PROJECT, {"input": "Atlas"}, "input", id="string-for-object"),
        pytest.param(
            "query($first: Int) { projects(first: $first) { totalCount } }", {"first": "ten"}, "first",
            id="string-for-int",
        ),
        pytest.param(
            "query($first: Int) { projects(first: $first) { totalCount } }", {"first": 1.5}, "first",
            id="float-for-int",
        ),
        pytest.param(
            'mutation { createProject(input: {name: 5}) { id } }', None, "name", id="literal-of-wrong-type"
        ),
    ],
)
async def test_wrong_variable_types_are_refused_naming_the_variable(
    api: GraphQLClient, alice: Alice, query: str, variables: dict[str, Any] | None, named: str
) -> None:
    before = await state(api, alice.token)
    result = await api.execute(query, variables, token=alice.token)
    assert_bad_input(result, None)
    error = result.errors[0]
    if variables is None:
        # A literal in the query: graphql-core's message says what is wrong ("String cannot
        # represent a non string value: 5") and `locations` points at the offending value.
        assert error["locations"], error
    else:
        assert named in error["message"]
    assert await state(api, alice.token) == before


async def test_update_flow_with_a_version_of_the_wrong_type_is_refused(api: GraphQLClient, alice: Alice) -> None:
    before = await state(api, alice.token)
    result = await api.execute(UPDATE_FLOW, {"id": alice.flow, "input": {"version": "1", "name": "X"}}, token=alice.token)
    assert_bad_input(result, None)
    assert "version" in result.errors[0]["message"]
    assert await state(api, alice.token) == before


# -- names and texts ----------------------------------------------------------------------------

BAD_NAMES = [
    pytest.param("", id="empty"),
    pytest.param("   \t ", id="blank"),
    pytest.param("x" * (MAX_NAME_LENGTH + 1), id="oversized"),
]


@pytest.mark.parametrize("name", BAD_NAMES)
@pytest.mark.parametrize(
    "operation", ["createProject", "updateProject", "createFlow", "updateFlow", "createCharacter", "updateCharacter"]
)
async def test_a_bad_name_is_refused_naming_the_field(
    api: GraphQLClient, alice: Alice, operation: str, name: str
) -> None:
    operations: dict[str, tuple[str, dict[str, Any]]] = {
        "createProject": (CREATE_PROJECT, {"input": {"name": name}}),
        "updateProject": (UPDATE_PROJECT, {"id": alice.project, "input": {"name": name}}),
        "createFlow": (CREATE_FLOW, {"input": {"projectId": alice.project, "name": name}}),
        "updateFlow": (UPDATE_FLOW, {"id": alice.flow, "input": {"version": 1, "name": name}}),
        "createCharacter": (CREATE_CHARACTER, {"input": {"name": name}}),
        "updateCharacter": (UPDATE_CHARACTER, {"id": alice.character, "input": {"name": name}}),
    }
    query, variables = operations[operation]
    before = await state(api, alice.token)
    assert_bad_input(await api.execute(query, variables, token=alice.token), "name")
    assert await state(api, alice.token) == before


async def test_a_name_of_exactly_the_maximum_length_is_accepted(api: GraphQLClient, alice: Alice) -> None:
    name = "x" * MAX_NAME_LENGTH
    created = (await api.execute(CREATE_PROJECT, {"input": {"name": name}}, token=alice.token)).ok()
    assert created["createProject"]["name"] == name


@pytest.mark.parametrize(
    ("operation", "field"),
    [
        ("createProject", "description"),
        ("updateProject", "description"),
        ("createCharacter", "description"),
        ("createCharacter", "appearance"),
        ("updateCharacter", "personality"),
        ("updateCharacter", "outfit"),
    ],
)
async def test_an_oversized_text_is_refused_naming_the_field(
    api: GraphQLClient, alice: Alice, operation: str, field: str
) -> None:
    text = "y" * (MAX_TEXT_LENGTH + 1)
    operations: dict[str, tuple[str, dict[str, Any]]] = {
        "createProject": (CREATE_PROJECT, {"input": {"name": "Big", field: text}}),
        "updateProject": (UPDATE_PROJECT, {"id": alice.project, "input": {field: text}}),
        "createCharacter": (CREATE_CHARACTER, {"input": {"name": "Big", field: text}}),
        "updateCharacter": (UPDATE_CHARACTER, {"id": alice.character, "input": {field: text}}),
    }
    query, variables = operations[operation]
    before = await state(api, alice.token)
    assert_bad_input(await api.execute(query, variables, token=alice.token), field)
    assert await state(api, alice.token) == before


async def test_a_text_of_exactly_the_maximum_length_is_accepted(api: GraphQLClient, alice: Alice) -> None:
    text = "y" * MAX_TEXT_LENGTH
    created = (
        await api.execute(CREATE_PROJECT, {"input": {"name": "Big", "description": text}}, token=alice.token)
    ).ok()
    assert created["createProject"]["description"] == text


@pytest.mark.parametrize(
    "extra", [pytest.param([1, 2], id="list"), pytest.param("text", id="string"), pytest.param(3, id="number")]
)
async def test_character_extra_that_is_not_an_object_is_refused(api: GraphQLClient, alice: Alice, extra: Any) -> None:
    before = await state(api, alice.token)
    result = await api.execute(UPDATE_CHARACTER, {"id": alice.character, "input": {"extra": extra}}, token=alice.token)
    assert_bad_input(result, "extra")
    assert await state(api, alice.token) == before


async def test_an_oversized_character_extra_is_refused(api: GraphQLClient, alice: Alice) -> None:
    before = await state(api, alice.token)
    extra = {"notes": "z" * MAX_TEXT_LENGTH}
    result = await api.execute(UPDATE_CHARACTER, {"id": alice.character, "input": {"extra": extra}}, token=alice.token)
    assert_bad_input(result, "extra")
    assert await state(api, alice.token) == before


# -- graphs -------------------------------------------------------------------------------------


def node(node_id: Any, **changes: Any) -> dict[str, Any]:
    return {"id": node_id, "type": "textInput", "position": {"x": 0, "y": 0}, "data": {}, **changes}


def without(mapping: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in mapping.items() if k != key}


BAD_GRAPHS = [
    pytest.param([], "graphData", id="list-not-object"),
    pytest.param("nodes", "graphData", id="string-not-object"),
    pytest.param(7, "graphData", id="number-not-object"),
    pytest.param({"nodes": {"a": node("a")}}, "graphData.nodes", id="nodes-not-a-list"),
    pytest.param({"nodes": ["a"]}, "graphData.nodes[0]", id="node-not-an-object"),
    pytest.param({"nodes": [without(node("a"), "id")]}, "graphData.nodes[0].id", id="node-without-id"),
    pytest.param({"nodes": [node("")]}, "graphData.nodes[0].id", id="node-with-empty-id"),
    pytest.param({"nodes": [node(7)]}, "graphData.nodes[0].id", id="node-with-number-id"),
    pytest.param({"nodes": [without(node("a"), "position")]}, "graphData.nodes[0].position", id="node-without-position"),
    pytest.param({"nodes": [without(node("a"), "type")]}, "graphData.nodes[0].type", id="node-without-type"),
    pytest.param(
        {"nodes": [node("a", position={"x": "left", "y": 0})]}, "graphData.nodes[0].position.x", id="position-x-string"
    ),
    pytest.param(
        {"nodes": [node("a", position={"x": 0, "y": None})]}, "graphData.nodes[0].position.y", id="position-y-null"
    ),
    pytest.param(
        {"nodes": [node("a", position={"x": True, "y": 0})]}, "graphData.nodes[0].position.x", id="position-x-bool"
    ),
    pytest.param({"nodes": [node("a", data=[1])]}, "graphData.nodes[0].data", id="node-data-not-an-object"),
    pytest.param({"nodes": [node("a"), node("b"), node("a")]}, "graphData.nodes[2].id", id="duplicate-node-ids"),
    pytest.param(
        {"nodes": [node("a")], "edges": [{"id": "e", "source": "a"}]}, "graphData.edges[0].target", id="edge-without-target"
    ),
    pytest.param(
        {"edges": [{"id": "e", "source": "a", "target": "b"}, {"id": "e", "source": "b", "target": "a"}]},
        "graphData.edges[1].id",
        id="duplicate-edge-ids",
    ),
    pytest.param({"viewport": {"x": 0, "y": 0, "zoom": 0}}, "graphData.viewport.zoom", id="zoom-zero"),
    pytest.param({"viewport": "wide"}, "graphData.viewport", id="viewport-not-an-object"),
]


@pytest.mark.parametrize(("graph", "field"), BAD_GRAPHS)
async def test_create_flow_with_a_malformed_graph_is_refused_naming_the_member(
    api: GraphQLClient, alice: Alice, graph: Any, field: str
) -> None:
    before = await state(api, alice.token)
    result = await api.execute(
        CREATE_FLOW, {"input": {"projectId": alice.project, "name": "Bad", "graphData": graph}}, token=alice.token
    )
    assert_bad_input(result, field)
    assert await state(api, alice.token) == before


@pytest.mark.parametrize(("graph", "field"), BAD_GRAPHS)
async def test_update_flow_with_a_malformed_graph_is_refused_and_keeps_the_flow(
    api: GraphQLClient, alice: Alice, graph: Any, field: str
) -> None:
    before = await state(api, alice.token)
    result = await api.execute(
        UPDATE_FLOW, {"id": alice.flow, "input": {"version": 1, "graphData": graph}}, token=alice.token
    )
    assert_bad_input(result, field)
    assert await state(api, alice.token) == before


async def test_a_graph_over_the_default_node_limit_is_refused(api: GraphQLClient, alice: Alice) -> None:
    graph = {"nodes": [node(f"n{i}") for i in range(2_001)]}
    before = await state(api, alice.token)
    result = await api.execute(
        CREATE_FLOW, {"input": {"projectId": alice.project, "name": "Huge", "graphData": graph}}, token=alice.token
    )
    assert_bad_input(result, "graphData.nodes")
    assert await state(api, alice.token) == before


async def test_a_graph_over_the_default_edge_limit_is_refused(api: GraphQLClient, alice: Alice) -> None:
    graph = {
        "nodes": [node("a"), node("b")],
        "edges": [{"id": f"e{i}", "source": "a", "target": "b"} for i in range(10_001)],
    }
    before = await state(api, alice.token)
    result = await api.execute(
        UPDATE_FLOW, {"id": alice.flow, "input": {"version": 1, "graphData": graph}}, token=alice.token
    )
    assert_bad_input(result, "graphData.edges")
    assert await state(api, alice.token) == before


async def test_the_node_limit_is_a_setting(small_api: GraphQLClient) -> None:
    alice = await make_alice(small_api)
    before = await state(small_api, alice.token)
    at_limit = {"nodes": [node(f"n{i}") for i in range(5)]}
    over_limit = {"nodes": [node(f"n{i}") for i in range(6)]}

    refused = await small_api.execute(
        UPDATE_FLOW, {"id": alice.flow, "input": {"version": 1, "graphData": over_limit}}, token=alice.token
    )
    assert_bad_input(refused, "graphData.nodes")
    assert await state(small_api, alice.token) == before

    accepted = await small_api.execute(
        UPDATE_FLOW, {"id": alice.flow, "input": {"version": 1, "graphData": at_limit}}, token=alice.token
    )
    assert accepted.ok()["updateFlow"]["version"] == 2


async def test_the_edge_limit_is_a_setting(small_api: GraphQLClient) -> None:
    alice = await make_alice(small_api)
    before = await state(small_api, alice.token)
    graph = {"nodes": [node("a"), node("b")], "edges": [{"id": f"e{i}", "source": "a", "target": "b"} for i in range(6)]}
    result = await small_api.execute(
        CREATE_FLOW, {"input": {"projectId": alice.project, "name": "Wide", "graphData": graph}}, token=alice.token
    )
    assert_bad_input(result, "graphData.edges")
    assert await state(small_api, alice.token) == before


async def test_an_oversized_text_inside_a_node_is_refused_naming_its_path(small_api: GraphQLClient) -> None:
    alice = await make_alice(small_api)
    before = await state(small_api, alice.token)
    graph = {"nodes": [node("a", data={"prompt": {"lines": ["ok", "w" * 51]}})]}
    result = await small_api.execute(
        UPDATE_FLOW, {"id": alice.flow, "input": {"version": 1, "graphData": graph}}, token=alice.token
    )
    assert_bad_input(result, "graphData.nodes[0].data.prompt.lines[1]")
    assert await state(small_api, alice.token) == before


async def test_the_text_limit_is_a_setting(small_api: GraphQLClient) -> None:
    alice = await make_alice(small_api)
    before = await state(small_api, alice.token)
    result = await small_api.execute(
        UPDATE_PROJECT, {"id": alice.project, "input": {"description": "d" * 51}}, token=alice.token
    )
    assert_bad_input(result, "description")
    assert await state(small_api, alice.token) == before


# -- providers ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "provider_id",
    [pytest.param("nope", id="unknown"), pytest.param("", id="empty"), pytest.param("fireworks", id="image-provider")],
)
async def test_create_flow_with_an_unknown_provider_is_refused(
    api: GraphQLClient, alice: Alice, provider_id: str
) -> None:
    before = await state(api, alice.token)
    result = await api.execute(
        CREATE_FLOW,
        {"input": {"projectId": alice.project, "name": "Bad", "providerId": provider_id}},
        token=alice.token,
    )
    assert_bad_input(result, "providerId")
    assert await state(api, alice.token) == before


async def test_update_flow_with_an_unknown_provider_is_refused(api: GraphQLClient, alice: Alice) -> None:
    before = await state(api, alice.token)
    result = await api.execute(
        UPDATE_FLOW, {"id": alice.flow, "input": {"version": 1, "providerId": "nope"}}, token=alice.token
    )
    assert_bad_input(result, "providerId")
    assert await state(api, alice.token) == before


# -- ids ----------------------------------------------------------------------------------------

MALFORMED_IDS = ["not-a-number", "-1", "0", "1.5", "", "12345678901234567890123", "' OR 1=1 --"]
MALFORMED_UUIDS = ["not-a-uuid", "42", "", "00000000-0000-0000-0000-00000000000g", "' OR 1=1 --"]

ID_OPERATIONS = [
    ("query($id: ID!) { project(id: $id) { id } }", "int"),
    ('mutation($id: ID!) { updateProject(id: $id, input: {name: "X"}) { id } }', "int"),
    ("mutation($id: ID!) { deleteProject(id: $id) }", "int"),
    ('mutation($id: ID!) { createFlow(input: {projectId: $id, name: "X"}) { id } }', "int"),
    ('mutation($id: ID!) { createCharacter(input: {projectId: $id, name: "X"}) { id } }', "int"),
    ("query($id: ID!) { flows(projectId: $id) { totalCount } }", "int"),
    ("query($id: ID!) { characters(projectId: $id) { totalCount } }", "int"),
    ("query($id: ID!) { user(id: $id) { id } }", "int"),
    ("mutation($id: ID!) { deleteUser(id: $id) }", "int"),
    ("query($id: ID!) { flow(id: $id) { id } }", "uuid"),
    ('mutation($id: ID!) { updateFlow(id: $id, input: {version: 1, name: "X"}) { id } }', "uuid"),
    ("mutation($id: ID!) { deleteFlow(id: $id) }", "uuid"),
    ("query($id: ID!) { character(id: $id) { id } }", "uuid"),
    ('mutation($id: ID!) { updateCharacter(id: $id, input: {name: "X"}) { id } }', "uuid"),
    ("mutation($id: ID!) { deleteCharacter(id: $id) }", "uuid"),
]


def _operation_name(query: str) -> str:
    return query.split("{", 2)[1].split("(")[0].strip()


@pytest.mark.parametrize(
    ("query", "kind"), [pytest.param(q, k, id=_operation_name(q)) for q, k in ID_OPERATIONS]
)
async def test_a_malformed_id_is_not_found_and_changes_nothing(
    api: GraphQLClient, alice: Alice, query: str, kind: str
) -> None:
    before = await state(api, alice.token)
    for bad_id in MALFORMED_IDS if kind == "int" else MALFORMED_UUIDS:
        result = await api.execute(query, {"id": bad_id}, token=alice.token)
        assert result.error_code == "NOT_FOUND", (bad_id, result.body)
        assert result.data is None
        assert "Traceback" not in str(result.body)
    assert await state(api, alice.token) == before


@pytest.mark.parametrize(
    ("query", "kind"), [pytest.param(q, k, id=_operation_name(q)) for q, k in ID_OPERATIONS]
)
async def test_an_unknown_id_is_not_found_and_changes_nothing(
    api: GraphQLClient, alice: Alice, query: str, kind: str
) -> None:
    unknown = str(int(alice.account.id) + 1_000_000) if kind == "int" else str(uuid.uuid4())
    before = await state(api, alice.token)
    result = await api.execute(query, {"id": unknown}, token=alice.token)
    assert result.error_code == "NOT_FOUND", result.body
    assert result.data is None
    assert await state(api, alice.token) == before


async def test_a_flow_id_given_as_a_character_id_is_not_found(api: GraphQLClient, alice: Alice) -> None:
    result = await api.execute("query($id: ID!) { character(id: $id) { id } }", {"id": alice.flow}, token=alice.token)
    assert result.error_code == "NOT_FOUND"


async def test_an_unknown_component_type_is_not_found(api: GraphQLClient) -> None:
    result = await api.execute('{ component(type: "noSuchType") { type } }')
    assert result.error_code == "NOT_FOUND"


# -- accounts -----------------------------------------------------------------------------------


async def _signup(api: GraphQLClient, email: str, username: str, password: str = PASSWORD) -> Any:
    return await api.execute(SIGNUP, {"input": {"email": email, "username": username, "password": password}})


async def _alice_is_untouched(api: GraphQLClient, alice: Alice, before: dict[str, Any]) -> None:
    assert await state(api, alice.token) == before
    login = await api.execute(LOGIN, {"identifier": "alice@example.com", "password": PASSWORD})
    assert login.ok()["login"]["accessToken"]


@pytest.mark.parametrize(
    "email", ["alice@example.com", "ALICE@Example.com", "  alice@example.com  "], ids=["same", "case", "spaces"]
)
async def test_signup_with_a_taken_email_is_a_conflict(api: GraphQLClient, alice: Alice, email: str) -> None:
    before = await state(api, alice.token)
    result = await _signup(api, email, "alice2", "a different passphrase 1")
    assert result.error_code == "CONFLICT"
    assert result.data is None
    assert "email" in result.errors[0]["message"]
    await _alice_is_untouched(api, alice, before)
    # No account "alice2" was made: the name is free for someone else.
    assert (await _signup(api, "other@example.com", "alice2")).ok()["signup"]["user"]["id"]


@pytest.mark.parametrize("username", ["alice", "ALICE", "Alice"])
async def test_signup_with_a_taken_username_is_a_conflict(api: GraphQLClient, alice: Alice, username: str) -> None:
    before = await state(api, alice.token)
    result = await _signup(api, "impostor@example.com", username)
    assert result.error_code == "CONFLICT"
    assert result.data is None
    assert "username" in result.errors[0]["message"]
    await _alice_is_untouched(api, alice, before)
    login = await api.execute(LOGIN, {"identifier": "impostor@example.com", "password": PASSWORD})
    assert login.error_code == "UNAUTHENTICATED"


@pytest.mark.parametrize(
    "password",
    [
        pytest.param("short1!", id="too-short"),
        pytest.param("onlyletters", id="letters-only"),
        pytest.param("1234567890", id="digits-only"),
        pytest.param("carol-secret-1", id="contains-username"),
        pytest.param("x1" * 40, id="over-72-bytes"),
    ],
)
async def test_signup_with_a_weak_password_is_refused_and_creates_nobody(api: GraphQLClient, password: str) -> None:
    result = await _signup(api, "carol@example.com", "carol", password)
    assert_bad_input(result, "password")
    assert (await api.execute(LOGIN, {"identifier": "carol", "password": password})).error_code == "UNAUTHENTICATED"
    # Neither the email nor the username was taken by the refused signup.
    assert (await _signup(api, "carol@example.com", "carol")).ok()["signup"]["user"]["id"]


@pytest.mark.parametrize(
    "email",
    ["carol", "carol@", "@example.com", "carol@example", "carol @example.com", "", "a@b.c" + "x" * 320],
)
async def test_signup_with_an_invalid_email_is_refused(api: GraphQLClient, email: str) -> None:
    result = await _signup(api, email, "carol")
    assert_bad_input(result, "email")
    assert (await _signup(api, "carol@example.com", "carol")).ok()["signup"]["user"]["id"]


@pytest.mark.parametrize("username", ["ab", "", "has space", "at@sign", "x" * 65, "émile"])
async def test_signup_with_an_invalid_username_is_refused(api: GraphQLClient, username: str) -> None:
    result = await _signup(api, "carol@example.com", username)
    assert_bad_input(result, "username")
    assert (await _signup(api, "carol@example.com", "carol")).ok()["signup"]["user"]["id"]


# -- tokens -------------------------------------------------------------------------------------


def _claims(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


def _forged(alice: Alice, *, key: str = TEST_SECRET_KEY, issued: datetime | None = None) -> str:
    """An access token for Alice's own session, signed with `key` and issued at `issued`."""
    claims = _claims(alice.token)
    token, _ = TokenCodec(key).issue(
        "access",
        account_kind="user",
        account_id=int(claims["sub"]),
        session_id=uuid.UUID(claims["sid"]),
        now=issued,
    )
    return token


TOKEN_PROTECTED = [
    pytest.param("{ me { id } }", lambda a: {}, id="me"),
    pytest.param('mutation { createProject(input: {name: "Sneaky"}) { id } }', lambda a: {}, id="createProject"),
    pytest.param("mutation($id: ID!) { deleteProject(id: $id) }", lambda a: {"id": a.project}, id="deleteProject"),
]


async def test_a_token_forged_with_the_right_key_works(api: GraphQLClient, alice: Alice) -> None:
    """The control for the tests below: only the expiry or the key differs."""
    me = (await api.execute("{ me { id } }", token=_forged(alice))).ok()["me"]
    assert me["id"] == alice.account.id


@pytest.mark.parametrize(("query", "variables_of"), TOKEN_PROTECTED)
async def test_an_expired_token_is_unauthenticated(
    api: GraphQLClient, alice: Alice, query: str, variables_of: Callable[[Alice], dict[str, Any]]
) -> None:
    expired = _forged(alice, issued=datetime.now(UTC) - timedelta(minutes=31))
    before = await state(api, alice.token)
    result = await api.execute(query, variables_of(alice), token=expired)
    assert result.error_code == "UNAUTHENTICATED"
    assert "expired" in result.errors[0]["message"]
    assert result.data is None
    assert await state(api, alice.token) == before


@pytest.mark.parametrize(("query", "variables_of"), TOKEN_PROTECTED)
async def test_a_token_signed_with_another_key_is_unauthenticated(
    api: GraphQLClient, alice: Alice, query: str, variables_of: Callable[[Alice], dict[str, Any]]
) -> None:
    forged = _forged(alice, key="an-attackers-key-that-is-long-enough-for-hs256")
    before = await state(api, alice.token)
    result = await api.execute(query, variables_of(alice), token=forged)
    assert result.error_code == "UNAUTHENTICATED"
    assert result.data is None
    assert await state(api, alice.token) == before


@pytest.mark.parametrize(
    "token_of",
    [
        pytest.param(lambda a: "not-a-jwt", id="garbage"),
        pytest.param(lambda a: a.token[:-4] + ("AAAA" if not a.token.endswith("AAAA") else "BBBB"), id="bad-signature"),
        pytest.param(
            lambda a: jwt.encode({**_claims(a.token), "alg": "none"}, key="", algorithm="none"), id="alg-none"
        ),
        pytest.param(
            lambda a: jwt.encode({**_claims(a.token), "typ": "access", "kind": "backoffice"}, "x" * 40, algorithm="HS256"),
            id="claims-backoffice-wrong-key",
        ),
    ],
)
async def test_a_malformed_or_tampered_token_is_unauthenticated(
    api: GraphQLClient, alice: Alice, token_of: Callable[[Alice], str]
) -> None:
    before = await state(api, alice.token)
    result = await api.execute('mutation { createProject(input: {name: "Sneaky"}) { id } }', token=token_of(alice))
    assert result.error_code == "UNAUTHENTICATED"
    assert result.data is None
    assert await state(api, alice.token) == before


# -- optimistic locking -------------------------------------------------------------------------


@pytest.mark.parametrize("version", [0, 2, 99, -1])
async def test_update_flow_with_a_stale_or_future_version_is_a_conflict(
    api: GraphQLClient, alice: Alice, version: int
) -> None:
    before = await state(api, alice.token)
    result = await api.execute(
        UPDATE_FLOW, {"id": alice.flow, "input": {"version": version, "name": "Lost update"}}, token=alice.token
    )
    assert result.error_code == "CONFLICT"
    assert result.data is None
    assert "version" in result.errors[0]["message"]
    assert await state(api, alice.token) == before


async def test_the_second_of_two_updates_from_the_same_version_is_a_conflict(api: GraphQLClient, alice: Alice) -> None:
    first = await api.execute(UPDATE_FLOW, {"id": alice.flow, "input": {"version": 1, "name": "Mine"}}, token=alice.token)
    assert first.ok()["updateFlow"]["version"] == 2
    before = await state(api, alice.token)
    second = await api.execute(UPDATE_FLOW, {"id": alice.flow, "input": {"version": 1, "name": "Theirs"}}, token=alice.token)
    assert second.error_code == "CONFLICT"
    assert await state(api, alice.token) == before
    flow = (await api.execute("query($id: ID!) { flow(id: $id) { name version } }", {"id": alice.flow}, token=alice.token)).ok()
    assert flow["flow"] == {"name": "Mine", "version": 2}


# -- pagination ---------------------------------------------------------------------------------

PAGED_LISTS = ["projects", "flows", "characters", "events"]


@pytest.mark.parametrize("connection", PAGED_LISTS)
@pytest.mark.parametrize("first", [101, 1_000_000, -1])
async def test_a_page_size_out_of_range_is_refused(api: GraphQLClient, alice: Alice, connection: str, first: int) -> None:
    result = await api.execute(
        f"query($first: Int) {{ {connection}(first: $first) {{ totalCount }} }}", {"first": first}, token=alice.token
    )
    assert_bad_input(result, "first")


@pytest.mark.parametrize("connection", PAGED_LISTS)
async def test_a_page_size_of_exactly_the_limit_is_accepted(api: GraphQLClient, alice: Alice, connection: str) -> None:
    result = await api.execute(
        f"query($first: Int) {{ {connection}(first: $first) {{ totalCount }} }}", {"first": 100}, token=alice.token
    )
    assert result.ok()[connection]["totalCount"] >= 1


@pytest.mark.parametrize("connection", PAGED_LISTS)
@pytest.mark.parametrize(
    "after",
    [
        pytest.param("garbage", id="garbage"),
        pytest.param("", id="empty"),
        pytest.param("b2Zmc2V0Oi0y", id="negative-offset"),  # "offset:-2"
        pytest.param("aWQ6NQ==", id="foreign-prefix"),  # "id:5"
        pytest.param("b2Zmc2V0OmZpdmU=", id="offset-not-a-number"),  # "offset:five"
        pytest.param("%%%%", id="not-base64"),
    ],
)
async def test_a_bad_after_cursor_is_refused(api: GraphQLClient, alice: Alice, connection: str, after: str) -> None:
    result = await api.execute(
        f"query($after: String) {{ {connection}(after: $after) {{ totalCount }} }}", {"after": after}, token=alice.token
    )
    assert_bad_input(result, "after")
