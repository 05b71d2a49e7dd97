"""A request that is not a GraphQL request gets HTTP 400 with a GraphQL-shaped error, and values
no database can store or no client can read back are refused naming the field: never a 5xx,
never INTERNAL."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import text, update
from starlette.applications import Starlette

from db.models import Character
from tests.graphql_client import Account, GraphQLClient, Result, graphql_ws

CREATE_PROJECT = "mutation($input: CreateProjectInput!) { createProject(input: $input) { id name } }"
CREATE_FLOW = "mutation($input: CreateFlowInput!) { createFlow(input: $input) { id graphData } }"
CREATE_CHARACTER = "mutation($input: CreateCharacterInput!) { createCharacter(input: $input) { id extra } }"
LOGIN = "mutation($input: LoginInput!) { login(input: $input) { accessToken } }"
MAX_JSON_DEPTH = 64


def nested(depth: int) -> Any:
    value: Any = []
    for _ in range(depth - 1):
        value = [value]
    return value


def assert_client_error_body(response: httpx.Response) -> None:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", body
    assert body["errors"][0]["message"]


def assert_refused(result: Result, field: str) -> None:
    assert result.status_code < 500
    assert result.error_code == "BAD_USER_INPUT", result.body
    assert result.errors[0]["extensions"]["field"] == field, result.body
    assert result.data is None


async def execute(api: GraphQLClient, query: str, variables: dict[str, Any], token: str | None = None) -> Result:
    """Like api.execute, but the way Python's json writes: NaN and lone surrogates as they are."""
    response = await post_raw(api, json.dumps({"query": query, "variables": variables}).encode(), token)
    return Result(response.status_code, response.json())


async def post_raw(api: GraphQLClient, body: bytes, token: str | None = None) -> httpx.Response:
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    return await api.http.post("/graphql", content=body, headers=headers)


# -- bodies that are not a GraphQL request ------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"null", id="null"),
        pytest.param(b"123", id="number"),
        pytest.param(b'"x"', id="string"),
        pytest.param(b"true", id="boolean"),
        pytest.param(b'{"query": "{ health { status } }", "x": "\xff\xfe"}', id="invalid-utf8"),
        pytest.param(b"1" * 5_000, id="5000-digit-number"),
        pytest.param(b'{"query": "{ health { status } }", "variables": {"n": ' + b"9" * 5_000 + b"}}", id="5000-digit-variable"),
        pytest.param(b"[" * 1_000 + b"]" * 1_000, id="1000-deep-array"),
        pytest.param(
            b'{"query": "{ health { status } }", "variables": {"a": ' + b"[" * 1_000 + b"]" * 1_000 + b"}}",
            id="1000-deep-variable",
        ),
        pytest.param(b"{not json", id="not-json"),
    ],
)
async def test_a_body_that_is_not_a_graphql_request_is_a_400_graphql_error(
    api: GraphQLClient, body: bytes
) -> None:
    assert_client_error_body(await post_raw(api, body))


async def test_a_1000_deep_graph_is_a_400_graphql_error(api: GraphQLClient, alice: Account, project: str) -> None:
    deep = b"[" * 1_000 + b"]" * 1_000
    body = (
        b'{"query": "' + CREATE_FLOW.encode() + b'", "variables": {"input": {"projectId": "' + project.encode()
        + b'", "name": "Deep", "graphData": {"nodes": [], "x": ' + deep + b"}}}}"
    )
    assert_client_error_body(await post_raw(api, body, alice.access_token))


@pytest.mark.parametrize(
    "params",
    [
        pytest.param({"query": "{ health { status } }", "variables": "[[["}, id="variables-not-json"),
        pytest.param({"query": "{ health { status } }", "variables": "[" * 1_000 + "]" * 1_000}, id="variables-1000-deep"),
        pytest.param({"query": "{ health { status } }", "variables": "7"}, id="variables-a-number"),
        pytest.param({"query": "{ health { status } }", "extensions": "{"}, id="extensions-not-json"),
    ],
)
async def test_a_malformed_get_query_string_is_a_400_graphql_error(api: GraphQLClient, params: dict[str, str]) -> None:
    response = await api.http.get("/graphql", params=params, headers={"accept": "application/json"})
    assert_client_error_body(response)


async def test_an_unknown_operation_name_with_a_lone_surrogate_is_a_400_graphql_error(api: GraphQLClient) -> None:
    body = json.dumps({"query": "query Q { health { status } }", "operationName": "Q\ud800"})
    response = await post_raw(api, body.encode())
    assert_client_error_body(response)
    assert "Q\ud800" in response.json()["errors"][0]["message"]


@pytest.mark.parametrize("method", ["POST", "GET"])
async def test_a_subscription_over_http_is_bad_user_input(api: GraphQLClient, alice: Account, method: str) -> None:
    query = "subscription { notifications { __typename } }"
    headers = {"authorization": f"Bearer {alice.access_token}", "accept": "application/json"}
    if method == "POST":
        response = await api.http.post("/graphql", json={"query": query}, headers=headers)
    else:
        response = await api.http.get("/graphql", params={"query": query}, headers=headers)
    assert response.status_code < 500
    body = response.json()
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", body
    assert "websocket" in body["errors"][0]["message"]


# -- values no database can store ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        pytest.param("a\x00b", "NUL", id="nul"),
        pytest.param("a\ud800b", "surrogate", id="lone-surrogate"),
    ],
)
async def test_text_a_database_cannot_store_is_refused_naming_the_field(
    api: GraphQLClient, alice: Account, value: str, problem: str
) -> None:
    result = await execute(api, CREATE_PROJECT, {"input": {"name": value}}, alice.access_token)
    assert_refused(result, "input.name")
    assert problem in result.errors[0]["message"]


async def test_a_nul_in_an_unauthenticated_login_is_refused(api: GraphQLClient) -> None:
    result = await api.execute(LOGIN, {"input": {"identifier": "ali\x00ce", "password": "whatever"}})
    assert_refused(result, "input.identifier")


async def test_a_nul_in_a_literal_string_is_refused(api: GraphQLClient) -> None:
    result = await api.execute('mutation { login(input: {identifier: "ali\\u0000ce", password: "x"}) { accessToken } }')
    assert_refused(result, "input.identifier")


async def test_a_text_refused_for_a_literal_is_refused_each_time_it_is_sent(api: GraphQLClient) -> None:
    # Texts that passed are not checked again: a refused one must not count as passed.
    for _ in range(2):
        result = await api.execute('{ component(type: "a\\u0000b") { type } }')
        assert_refused(result, "type")


# json.dumps writes NaN and Infinity as the bare words many JSON parsers (Python's too) accept.
NON_STANDARD_NUMBERS = [
    pytest.param(float("nan"), id="nan"),
    pytest.param(float("inf"), id="infinity"),
    pytest.param(float("-inf"), id="minus-infinity"),
    pytest.param(2**63, id="int-beyond-2^53"),
]


@pytest.mark.parametrize("number", NON_STANDARD_NUMBERS)
async def test_a_non_finite_or_huge_number_in_graph_data_is_refused(
    api: GraphQLClient, alice: Account, project: str, number: float
) -> None:
    graph = {"nodes": [{"id": "a", "type": "textInput", "position": {"x": 0, "y": 0}, "data": {"seed": number}}]}
    flow_input = {"projectId": project, "name": "N", "graphData": graph}
    result = await execute(api, CREATE_FLOW, {"input": flow_input}, alice.access_token)
    assert_refused(result, "input.graphData.nodes[0].data.seed")


@pytest.mark.parametrize("number", NON_STANDARD_NUMBERS)
async def test_a_non_finite_or_huge_number_in_character_extra_is_refused(
    api: GraphQLClient, alice: Account, number: float
) -> None:
    result = await execute(api, CREATE_CHARACTER, {"input": {"name": "Mira", "extra": {"age": number}}}, alice.access_token)
    assert_refused(result, "input.extra.age")


@pytest.mark.parametrize("literal", ["1e400", "-1e400", "9" * 5_000])
async def test_a_literal_number_out_of_range_is_refused(api: GraphQLClient, alice: Account, literal: str) -> None:
    query = f'mutation {{ createCharacter(input: {{name: "Mira", extra: {{age: {literal}}}}}) {{ id }} }}'
    result = await api.execute(query, token=alice.access_token)
    assert_refused(result, "input.extra.age")


async def test_json_nested_past_the_limit_is_refused_naming_the_member(
    api: GraphQLClient, alice: Account
) -> None:
    # The variable itself counts as a level: input > extra > list > ... .
    extra = {"deep": nested(MAX_JSON_DEPTH)}
    result = await api.execute(CREATE_CHARACTER, {"input": {"name": "Mira", "extra": extra}}, token=alice.access_token)
    assert result.error_code == "BAD_USER_INPUT", result.body
    assert result.errors[0]["extensions"]["field"].startswith("input.extra.deep[0]")


async def test_json_nested_within_the_limit_is_accepted(api: GraphQLClient, alice: Account) -> None:
    extra = {"deep": nested(MAX_JSON_DEPTH - 3)}
    result = await api.execute(CREATE_CHARACTER, {"input": {"name": "Mira", "extra": extra}}, token=alice.access_token)
    assert result.ok()["createCharacter"]["extra"] == extra


async def test_a_valid_surrogate_pair_is_accepted(api: GraphQLClient, alice: Account) -> None:
    body = json.dumps({"query": CREATE_PROJECT, "variables": {"input": {"name": "smile \U0001f600"}}})
    assert "\\ud83d\\ude00" in body
    response = await post_raw(api, body.encode(), alice.access_token)
    assert response.json()["data"]["createProject"]["name"] == "smile \U0001f600"


async def test_a_nan_stored_before_it_was_refused_goes_out_as_null(
    app: Starlette, api: GraphQLClient, alice: Account
) -> None:
    """Responses are standard JSON on both databases. Only SQLite can hold a NaN (written by an
    earlier version, before the API refused them); today's writes store non-finite numbers as
    null on both databases."""
    created = await api.execute(CREATE_CHARACTER, {"input": {"name": "Mira", "extra": {"age": 1}}}, token=alice.access_token)
    character_id = created.ok()["createCharacter"]["id"]
    async with app.state.backend.session_factory() as session:
        if session.bind.dialect.name == "sqlite":
            legacy = '{"age": 1.5, "score": NaN}'  # as the standard library's json.dumps wrote it
            await session.execute(
                text("UPDATE consistent_characters SET extra = :extra WHERE id = :id"),
                {"extra": legacy, "id": uuid.UUID(character_id).hex},
            )
        else:
            await session.execute(update(Character).values(extra={"age": 1.5, "score": float("nan")}))
        await session.commit()
    response = await api.http.post(
        "/graphql",
        json={"query": "query($id: ID!) { character(id: $id) { extra } }", "variables": {"id": character_id}},
        headers={"authorization": f"Bearer {alice.access_token}"},
    )
    # What JSON.parse would do with the bare words NaN and Infinity.
    body = json.loads(response.text, parse_constant=lambda word: pytest.fail(f"non-standard JSON: {word}"))
    assert body["data"]["character"]["extra"] == {"age": 1.5, "score": None}


# -- cursors ------------------------------------------------------------------------------------


@pytest.mark.parametrize("offset", [2**63 - 1, 2**63, 2**31])
async def test_a_cursor_with_an_offset_beyond_any_list_is_refused(
    api: GraphQLClient, alice: Account, offset: int
) -> None:
    import base64

    cursor = base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode()
    result = await api.execute(
        "query($after: String) { projects(after: $after) { totalCount } }", {"after": cursor}, token=alice.access_token
    )
    assert_refused(result, "after")


@pytest.mark.parametrize("object_id", [str(2**31), str(2**63 - 1), 2147483648.0])
@pytest.mark.parametrize(
    "query", ["query($id: ID!) { project(id: $id) { id } }", "mutation($id: ID!) { deleteProject(id: $id) }"]
)
async def test_an_integer_id_past_the_32_bit_columns_is_not_found(
    api: GraphQLClient, alice: Account, query: str, object_id: object
) -> None:
    """Integer ids are 32-bit on PostgreSQL: a larger one made the query itself fail."""
    result = await api.execute(query, {"id": object_id}, token=alice.access_token)
    assert result.error_code == "NOT_FOUND", result.body


# -- websockets ---------------------------------------------------------------------------------

RUN_FLOW = "subscription($input: RunInput!) { runFlow(input: $input) { __typename } }"


@pytest.mark.parametrize(
    ("run_input", "field"),
    [
        pytest.param(
            {"graph": {"nodes": [], "edges": []}, "cachedOutputs": {"a": float("nan")}},
            "input.cachedOutputs.a",
            id="nan-in-cached-outputs",
        ),
        pytest.param({"graph": {"nodes": [], "edges": [], "note": "x\x00"}}, "input.graph.note", id="nul-in-graph"),
        pytest.param(
            {"graph": {"nodes": [], "edges": []}, "cachedOutputs": {"a": nested(MAX_JSON_DEPTH)}}, None, id="deep-cached-outputs"
        ),
    ],
)
async def test_a_bad_value_in_a_websocket_operation_is_bad_user_input(
    live_server: str, live_api: GraphQLClient, run_input: dict[str, Any], field: str | None
) -> None:
    alice = await live_api.signup("alice")
    async with graphql_ws(live_server, payload={"token": alice.access_token}) as connection:
        await connection.subscribe(RUN_FLOW, {"input": run_input})
        message = await asyncio.wait_for(connection.receive(), timeout=5)
    errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
    assert errors[0]["extensions"]["code"] == "BAD_USER_INPUT", message
    assert errors[0]["extensions"]["field"].startswith(field or "input.cachedOutputs.a[0]"), message
