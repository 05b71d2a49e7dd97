"""A query's cost is bounded before it runs, and validating any document takes little time.

The attacks below each stalled the server: they must be refused with a coded error
naming the limit, while other requests keep being answered.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests import query_attacks
from tests.api_fixtures import api_with, settings_for
from tests.graphql_client import GraphQLClient, graphql_ws
from tests.query_attacks import Attack

HEALTH = "{ health { status } }"
ATTACKS = [pytest.param(attack, id=attack.name) for attack in query_attacks.ATTACKS]


@pytest.mark.parametrize("attack", ATTACKS)
async def test_an_attack_on_validation_is_refused_naming_its_limit(api: GraphQLClient, attack: Attack) -> None:
    result = await api.execute(attack.document())
    assert result.status_code == 200
    assert result.data is None
    assert result.error_code == "BAD_USER_INPUT", result.body
    assert attack.limit in result.errors[0]["message"]


@pytest.mark.parametrize("attack", ATTACKS)
async def test_other_requests_are_answered_while_an_attack_is_refused(api: GraphQLClient, attack: Attack) -> None:
    refused = asyncio.create_task(api.execute(attack.document()))
    # Requests one after another for as long as the attack is being handled: each is answered.
    # (How long the attack holds them up is measured by benchmarks/query_validation.py.)
    while not refused.done():
        assert (await api.execute(HEALTH)).ok()
    assert (await refused).error_code == "BAD_USER_INPUT"


async def test_refused_documents_are_not_kept_in_memory(api: GraphQLClient) -> None:
    # Each of these parses into ~17,000 objects. Kept (Strawberry's ValidationCache kept every
    # document it saw, up to 128), they made every full garbage collection hundreds of ms longer.
    attack = next(attack for attack in query_attacks.ATTACKS if attack.name == "same field 1,240 times")
    await api.execute(attack.document("Warm"))
    gc.collect()
    before = len(gc.get_objects())
    for copy in range(20):
        assert (await api.execute(attack.document(f"Copy{copy}"))).error_code == "BAD_USER_INPUT"
    gc.collect()
    assert len(gc.get_objects()) - before < 20_000


async def test_a_subscription_is_held_to_the_same_limits(live_server: str, live_api: GraphQLClient) -> None:
    alice = await live_api.signup("alice")
    fragments = query_attacks.doubling_fragments(39, on="Notification", field="eventName")
    query = f"{fragments} subscription {{ notifications {{ ...F39 }} }}"
    async with graphql_ws(live_server, payload={"token": alice.access_token}) as connection:
        operation_id = await connection.subscribe(query)
        message = await asyncio.wait_for(connection.receive(), timeout=10)
    assert message["id"] == operation_id
    assert message["type"] == "error"
    assert "MAX_QUERY_COST" in message["payload"][0]["message"]


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
    assert "cost 4301" in refused.errors[0]["message"]
    assert "MAX_QUERY_COST" in refused.errors[0]["message"]
    served = await cheap_api.execute(f"{{ projects(first: 10) {{ {PROJECT_PAGE} }} }}", token=alice.access_token)
    assert served.ok()["projects"]["nodes"] == []


async def test_a_page_size_given_as_a_variable_is_costed_at_the_largest_page(cheap_api: GraphQLClient) -> None:
    alice = await cheap_api.signup("alice")
    query = f"query($n: Int) {{ projects(first: $n) {{ {PROJECT_PAGE} }} }}"
    result = await cheap_api.execute(query, {"n": 10}, token=alice.access_token)
    assert result.error_code == "BAD_USER_INPUT"
    assert "cost 4301" in result.errors[0]["message"]


async def test_a_fragment_spread_many_times_is_costed_each_time(cheap_api: GraphQLClient) -> None:
    # 30 spreads of a fragment of 40 fields: 30 * (1 + 40).
    spreads = " ".join(f"h{i}: health {{ ...H }}" for i in range(30))
    fields = " ".join(["status database version"] * 13 + ["status"])
    result = await cheap_api.execute(f"fragment H on Health {{ {fields} }} {{ {spreads} }}")
    assert result.error_code == "BAD_USER_INPUT"
    assert "cost 1230" in result.errors[0]["message"]


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
