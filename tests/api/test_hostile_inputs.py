"""Property-based: whatever a client puts in any argument of any query or mutation, the answer is
a coded client error or a success, never a 5xx and never INTERNAL.

The operations and their argument types are read from the schema itself, so a new field or input
is covered without touching this file. Each value is either shaped like the argument's type with
hostile leaves (NUL, lone surrogates, NaN, infinities, integers far past 2^53, deep nesting) or any
JSON value at all.
"""

from __future__ import annotations

import asyncio
import json
import math
import uuid
from typing import Any

import pytest
from graphql import (
    GraphQLArgument,
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLUnionType,
    get_named_type,
)
from graphql import build_schema as build_graphql_schema
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schema.root import build_schema
from tests.graphql_client import Account, GraphQLClient, graphql_ws

# graphql-core's schema of ours, built from its SDL (Strawberry keeps its own private).
SCHEMA: GraphQLSchema = build_graphql_schema(build_schema().as_str())
DEEP = 200  # past MAX_JSON_DEPTH (64), within what a JSON parser takes

# Modest, so both databases stay fast; each field of the schema gets its own examples.
HOSTILE = settings(
    max_examples=12,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)


def root_fields() -> list[tuple[str, str, GraphQLField]]:
    """(operation kind, field name, field) of every query and mutation taking arguments."""
    found = []
    for kind, root in (("query", SCHEMA.query_type), ("mutation", SCHEMA.mutation_type)):
        assert root is not None
        found += [(kind, name, field) for name, field in root.fields.items() if field.args]
    return found


def operation(kind: str, name: str, field: GraphQLField) -> str:
    """`mutation($id: ID!, $input: X!) { field(id: $id, input: $input) { __typename } }`."""
    declared = ", ".join(f"${arg}: {argument.type}" for arg, argument in field.args.items())
    passed = ", ".join(f"{arg}: ${arg}" for arg in field.args)
    returned = get_named_type(field.type)
    selection = " { __typename }" if isinstance(returned, (GraphQLObjectType, GraphQLInterfaceType, GraphQLUnionType)) else ""
    return f"{kind}({declared}) {{ {name}({passed}){selection} }}"


# -- values -------------------------------------------------------------------------------------

hostile_text = st.one_of(
    st.text(max_size=20),
    st.builds(lambda a, b: f"{a}\x00{b}", st.text(max_size=5), st.text(max_size=5)),
    st.builds(lambda a, s: f"{a}{s}", st.text(max_size=5), st.sampled_from(["\ud800", "\udfff", "\udc00x"])),
    st.sampled_from(["", " ", "garbage", "b2Zmc2V0OjkyMjMzNzIwMzY4NTQ3NzU4MDc=", "1", "0", "-1"]),
)
hostile_numbers = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([2**53, -(2**53), 2**63 - 1, 2**63, 10**300, math.nan, math.inf, -math.inf, 1e308]),
)
scalar_leaves = st.one_of(st.none(), st.booleans(), hostile_numbers, hostile_text)
json_values = st.recursive(
    scalar_leaves,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(hostile_text, children, max_size=4)
    ),
    max_leaves=12,
)


def deeply_nested(value: Any) -> Any:
    for _ in range(DEEP):
        value = [value]
    return value


any_json = st.one_of(json_values, json_values.map(deeply_nested))


def values_for(input_type: GraphQLInputType, known_ids: list[str]) -> st.SearchStrategy[Any]:
    """Values shaped like `input_type` with hostile leaves, or anything at all."""
    return st.one_of(_shaped(input_type, known_ids), any_json) if _is_leaf(input_type) else st.one_of(
        _shaped(input_type, known_ids), _shaped(input_type, known_ids), any_json
    )


def _is_leaf(input_type: GraphQLInputType) -> bool:
    return isinstance(get_named_type(input_type), GraphQLScalarType)


def _shaped(input_type: GraphQLInputType, known_ids: list[str]) -> st.SearchStrategy[Any]:
    if isinstance(input_type, GraphQLNonNull):
        return _shaped(input_type.of_type, known_ids)
    if isinstance(input_type, GraphQLList):
        return st.lists(values_for(input_type.of_type, known_ids), max_size=3)
    if isinstance(input_type, GraphQLInputObjectType):
        members = {name: values_for(field.type, known_ids) for name, field in input_type.fields.items()}
        return st.fixed_dictionaries({}, optional=members)
    assert isinstance(input_type, GraphQLScalarType)
    if input_type.name == "JSON":
        return any_json
    if input_type.name == "ID":
        return st.one_of(st.sampled_from(known_ids), hostile_text, hostile_numbers)
    if input_type.name in ("Int", "Float"):
        return hostile_numbers
    if input_type.name == "Boolean":
        return st.one_of(st.booleans(), scalar_leaves)
    return hostile_text


def arguments_for(args: dict[str, GraphQLArgument], known_ids: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({name: values_for(argument.type, known_ids) for name, argument in args.items()})


# -- the property -------------------------------------------------------------------------------


@pytest.fixture
async def known_ids(api: GraphQLClient, alice: Account, project: str) -> list[str]:
    """Ids of real objects of Alice's, so that hostile values reach the code behind the lookups."""
    flow = await api.execute(
        'mutation($p: ID!) { createFlow(input: {projectId: $p, name: "F"}) { id } }', {"p": project}, token=alice.access_token
    )
    character = await api.execute(
        'mutation($p: ID!) { createCharacter(input: {projectId: $p, name: "C"}) { id } }',
        {"p": project},
        token=alice.access_token,
    )
    return [project, alice.id, flow.ok()["createFlow"]["id"], character.ok()["createCharacter"]["id"]]


@pytest.mark.parametrize(
    ("kind", "name", "field"), [pytest.param(*entry, id=entry[1]) for entry in root_fields()]
)
@HOSTILE
@given(data=st.data(), signed_in=st.booleans())
async def test_no_argument_value_gets_a_server_error(
    api: GraphQLClient,
    alice: Account,
    known_ids: list[str],
    kind: str,
    name: str,
    field: GraphQLField,
    data: st.DataObject,
    signed_in: bool,
) -> None:
    variables = data.draw(arguments_for(field.args, known_ids), label="variables")
    # Python's json writes NaN, infinities and lone surrogates as a careless client would.
    body = json.dumps({"query": operation(kind, name, field), "variables": variables})
    headers = {"content-type": "application/json"}
    if signed_in:
        headers["authorization"] = f"Bearer {alice.access_token}"
    response = await api.http.post("/graphql", content=body.encode(), headers=headers)
    assert response.status_code < 500, response.text
    codes = {error.get("extensions", {}).get("code") for error in response.json().get("errors") or []}
    assert "INTERNAL" not in codes and None not in codes, response.text


@pytest.fixture
async def subscriber(live_api: GraphQLClient) -> Account:
    return await live_api.signup("subscriber")


def subscription_fields() -> list[tuple[str, GraphQLField]]:
    assert SCHEMA.subscription_type is not None
    return [(name, field) for name, field in SCHEMA.subscription_type.fields.items() if field.args]


@pytest.mark.parametrize(("name", "field"), [pytest.param(*entry, id=entry[0]) for entry in subscription_fields()])
@HOSTILE
@given(data=st.data())
async def test_no_subscription_argument_value_gets_a_server_error(
    live_server: str, subscriber: Account, name: str, field: GraphQLField, data: st.DataObject
) -> None:
    """Subscriptions take their variables over the websocket, through the same checks."""
    variables = data.draw(arguments_for(field.args, [str(uuid.uuid4())]), label="variables")
    async with graphql_ws(live_server, payload={"token": subscriber.access_token}) as connection:
        # Written by Python's json, like the HTTP bodies above: NaN and lone surrogates as they are.
        await connection.subscribe(operation("subscription", name, field), variables)
        message = await asyncio.wait_for(connection.receive(), timeout=10)
    errors = message["payload"] if message["type"] == "error" else (message.get("payload") or {}).get("errors") or []
    codes = {error.get("extensions", {}).get("code") for error in errors}
    assert "INTERNAL" not in codes and None not in codes, message

