"""A query's cost is bounded before it runs, and validating any document takes little time.

The attacks below each stalled the server (issue 12): they must be refused with a coded error
naming the limit, while other requests keep being answered.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.api_fixtures import api_with, settings_for
from tests.graphql_client import GraphQLClient

HEALTH = "{ health { status } }"


def doubling_fragments(levels: int) -> str:
    """F0 selects one field; each next fragment spreads the previous one twice."""
    fragments = ["fragment F0 on Health { status }"] + [
        f"fragment F{level} on Health {{ ...F{level - 1} ...F{level - 1} }}" for level in range(1, levels + 1)
    ]
    return " ".join(fragments) + f" {{ health {{ ...F{levels} }} }}"


ATTACKS = [
    # (document, the setting named in the error)
    pytest.param(doubling_fragments(18), "MAX_QUERY_COST", id="fragments-doubling-18-times"),
    pytest.param(doubling_fragments(39), "MAX_QUERY_COST", id="fragments-doubling-39-times"),
    pytest.param(
        "{ " + "health { status } " * 1_240 + "}", "MAX_QUERY_FIELD_COMPARISONS", id="same-field-1240-times"
    ),
    pytest.param(
        "{ health { " + "status " * 4_990 + "} }", "MAX_QUERY_FIELD_COMPARISONS", id="wide-at-the-token-limit"
    ),
    pytest.param(
        "{ " + ("health { " + "status " * 14 + "} ") * 14 * 14 + "}",
        "MAX_QUERY_FIELD_COMPARISONS",
        id="same-field-in-many-groups",
    ),
    pytest.param(
        "{ projects { nodes { " + "flows { project { " * 90 + "id" + " } }" * 90 + " } } }",
        "MAX_QUERY_DEPTH",
        id="deep-nesting",
    ),
    pytest.param(
        "{ " + " ".join(f"h{i}: health {{ status }}" for i in range(800)) + " }",
        "MAX_QUERY_ALIASES",
        id="many-aliases",
    ),
]


@pytest.mark.parametrize(("query", "limit"), ATTACKS)
async def test_an_attack_on_validation_is_refused_naming_its_limit(api: GraphQLClient, query: str, limit: str) -> None:
    result = await api.execute(query)
    assert result.status_code == 200
    assert result.data is None
    assert result.error_code == "BAD_USER_INPUT", result.body
    assert limit in result.errors[0]["message"]


@pytest.mark.parametrize(("query", "limit"), ATTACKS)
async def test_other_requests_are_answered_while_an_attack_is_refused(
    api: GraphQLClient, query: str, limit: str
) -> None:
    attack = asyncio.create_task(api.execute(query))
    latencies = []
    # Requests one after another for as long as the attack is being handled: one of them is in
    # flight whenever the attack holds the event loop.
    while not attack.done():
        began = time.monotonic()
        assert (await api.execute(HEALTH)).ok()
        latencies.append(time.monotonic() - began)
    assert (await attack).error_code == "BAD_USER_INPUT"
    assert max(latencies) < 2.0


@pytest.fixture
async def cheap_api(database_url: str, workdir: Path, engine: AsyncEngine) -> AsyncIterator[GraphQLClient]:
    """The app with MAX_QUERY_COST=1000."""
    async with api_with(settings_for(database_url, workdir, MAX_QUERY_COST="1000"), engine) as client:
        yield client


# Per project: itself, its name, and its flows (a list: the default page of 20) of two fields.
PROJECT_PAGE = "nodes { name flows { id name } }"


async def test_a_page_multiplies_the_cost_of_what_it_selects(cheap_api: GraphQLClient) -> None:
    alice = await cheap_api.signup("alice")
    refused = await cheap_api.execute(f"{{ projects(first: 100) {{ {PROJECT_PAGE} }} }}", token=alice.access_token)
    assert refused.error_code == "BAD_USER_INPUT"
    assert "cost of 4301" in refused.errors[0]["message"]
    assert "MAX_QUERY_COST" in refused.errors[0]["message"]
    served = await cheap_api.execute(f"{{ projects(first: 10) {{ {PROJECT_PAGE} }} }}", token=alice.access_token)
    assert served.ok()["projects"]["nodes"] == []


async def test_a_page_size_given_as_a_variable_is_costed_at_the_largest_page(cheap_api: GraphQLClient) -> None:
    alice = await cheap_api.signup("alice")
    query = f"query($n: Int) {{ projects(first: $n) {{ {PROJECT_PAGE} }} }}"
    result = await cheap_api.execute(query, {"n": 10}, token=alice.access_token)
    assert result.error_code == "BAD_USER_INPUT"
    assert "cost of 4301" in result.errors[0]["message"]


async def test_a_fragment_spread_many_times_is_costed_each_time(cheap_api: GraphQLClient) -> None:
    # 30 spreads of a fragment of 40 fields: 30 * (1 + 40).
    spreads = " ".join(f"h{i}: health {{ ...H }}" for i in range(30))
    fields = " ".join(["status database version"] * 13 + ["status"])
    result = await cheap_api.execute(f"fragment H on Health {{ {fields} }} {{ {spreads} }}")
    assert result.error_code == "BAD_USER_INPUT"
    assert "cost of 1230" in result.errors[0]["message"]


async def test_fields_asked_for_twice_are_merged(api: GraphQLClient) -> None:
    result = await api.execute(
        "fragment S on Health { status } { health { status ...S } health { ...S database } }"
    )
    assert result.ok() == {"health": {"status": "ok", "database": True}}


async def test_two_fields_under_one_alias_are_still_refused(api: GraphQLClient) -> None:
    result = await api.execute("{ health { s: status s: version } }")
    assert result.error_code == "BAD_USER_INPUT"
    assert "conflict" in result.errors[0]["message"]


async def test_one_field_with_different_arguments_under_one_name_is_still_refused(
    api: GraphQLClient,
) -> None:
    result = await api.execute('{ component(type: "textOutput") { name } component(type: "compressor") { name } }')
    assert result.error_code == "BAD_USER_INPUT"
    assert "differing arguments" in result.errors[0]["message"]
