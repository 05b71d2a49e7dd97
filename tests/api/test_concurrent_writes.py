"""Writes racing each other: the losers get the coded error the unraced request would get
(CONFLICT naming the field or the version), never INTERNAL.

The requests go over a real socket to uvicorn, so that they really run at the same time, each in
its own transaction, on both databases.
"""

from __future__ import annotations

import asyncio

from starlette.applications import Starlette

from tests.api_fixtures import backoffice_token
from tests.graphql_client import PASSWORD, GraphQLClient, Result

RACERS = 6
SIGNUP = """
mutation($input: SignupInput!) { signup(input: $input) { user { id } } }
"""
CREATE_FLOW = """
mutation($input: CreateFlowInput!) { createFlow(input: $input) { id version } }
"""
UPDATE_FLOW = """
mutation($id: ID!, $input: UpdateFlowInput!) { updateFlow(id: $id, input: $input) { id version name } }
"""
REFRESH = "mutation($token: String!) { refreshToken(refreshToken: $token) { accessToken } }"
CREATE_BACKOFFICE_USER = """
mutation($input: SignupInput!) { createBackofficeUser(input: $input) { id } }
"""


def winners_and_losers(results: list[Result]) -> tuple[list[Result], list[Result]]:
    winners = [result for result in results if not result.errors]
    losers = [result for result in results if result.errors]
    return winners, losers


async def test_concurrent_updates_from_the_same_version_one_wins_the_rest_conflict(
    live_api: GraphQLClient,
) -> None:
    alice = await live_api.signup("alice")
    project = await live_api.create_project(alice)
    flow = (
        await live_api.execute(CREATE_FLOW, {"input": {"projectId": project, "name": "Draft"}}, token=alice.access_token)
    ).ok()["createFlow"]["id"]

    results = await asyncio.gather(
        *(
            live_api.execute(
                UPDATE_FLOW, {"id": flow, "input": {"version": 1, "name": f"Edit {n}"}}, token=alice.access_token
            )
            for n in range(RACERS)
        )
    )

    winners, losers = winners_and_losers(list(results))
    assert len(winners) == 1, [result.body for result in results]
    assert {loser.error_code for loser in losers} == {"CONFLICT"}, [loser.body for loser in losers]
    assert all("version" in loser.errors[0]["message"] for loser in losers)
    stored = (
        await live_api.execute("query($id: ID!) { flow(id: $id) { name version } }", {"id": flow}, token=alice.access_token)
    ).ok()["flow"]
    assert stored == {"name": winners[0].data["updateFlow"]["name"], "version": 2}


async def _concurrent_signups(api: GraphQLClient, inputs: list[dict[str, str]]) -> list[Result]:
    return list(await asyncio.gather(*(api.execute(SIGNUP, {"input": value}) for value in inputs)))


async def test_concurrent_signups_with_the_same_email_one_wins_the_rest_conflict(live_api: GraphQLClient) -> None:
    inputs = [
        {"email": "same@example.com", "username": f"racer{n}", "password": PASSWORD} for n in range(RACERS)
    ]
    winners, losers = winners_and_losers(await _concurrent_signups(live_api, inputs))
    assert len(winners) == 1, [loser.body for loser in losers]
    assert {loser.error_code for loser in losers} == {"CONFLICT"}, [loser.body for loser in losers]
    assert all(loser.errors[0]["extensions"].get("field") == "email" for loser in losers), losers[0].body


async def test_concurrent_signups_with_the_same_username_one_wins_the_rest_conflict(live_api: GraphQLClient) -> None:
    inputs = [
        {"email": f"racer{n}@example.com", "username": "samename", "password": PASSWORD} for n in range(RACERS)
    ]
    winners, losers = winners_and_losers(await _concurrent_signups(live_api, inputs))
    assert len(winners) == 1, [loser.body for loser in losers]
    assert {loser.error_code for loser in losers} == {"CONFLICT"}, [loser.body for loser in losers]
    assert all(loser.errors[0]["extensions"].get("field") == "username" for loser in losers), losers[0].body


async def test_concurrent_signups_with_usernames_differing_in_case_one_wins(live_api: GraphQLClient) -> None:
    names = ["casey", "Casey", "CASEY", "cAsey", "caSey", "casEy"]
    inputs = [
        {"email": f"racer{n}@example.com", "username": name, "password": PASSWORD} for n, name in enumerate(names)
    ]
    winners, losers = winners_and_losers(await _concurrent_signups(live_api, inputs))
    assert len(winners) == 1, [result.body for result in winners]
    assert {loser.error_code for loser in losers} == {"CONFLICT"}, [loser.body for loser in losers]
    assert all(loser.errors[0]["extensions"].get("field") == "username" for loser in losers), losers[0].body


async def test_concurrent_backoffice_users_with_the_same_email_one_wins_the_rest_conflict(
    api: GraphQLClient, app: Starlette
) -> None:
    token = await backoffice_token(api, app)
    results = await asyncio.gather(
        *(
            api.execute(
                CREATE_BACKOFFICE_USER,
                {"input": {"email": "staff@example.com", "username": f"staff{n}", "password": PASSWORD}},
                token=token,
            )
            for n in range(RACERS)
        )
    )
    winners, losers = winners_and_losers(list(results))
    assert len(winners) == 1, [loser.body for loser in losers]
    assert {loser.error_code for loser in losers} == {"CONFLICT"}, [loser.body for loser in losers]
    assert all(loser.errors[0]["extensions"].get("field") == "email" for loser in losers), losers[0].body


async def test_concurrent_refreshes_of_one_token_one_wins_the_rest_are_unauthenticated(
    live_api: GraphQLClient,
) -> None:
    alice = await live_api.signup("alice")
    results = await asyncio.gather(*(live_api.execute(REFRESH, {"token": alice.refresh_token}) for _ in range(RACERS)))
    winners, losers = winners_and_losers(list(results))
    assert len(winners) == 1, [result.body for result in results]
    assert {loser.error_code for loser in losers} == {"UNAUTHENTICATED"}, [loser.body for loser in losers]


async def test_creating_in_a_project_being_deleted_is_not_found_or_succeeds(live_api: GraphQLClient) -> None:
    alice = await live_api.signup("alice")
    for attempt in range(3):
        project = await live_api.create_project(alice, name=f"Doomed {attempt}")
        creations = [
            live_api.execute(CREATE_FLOW, {"input": {"projectId": project, "name": f"F{n}"}}, token=alice.access_token)
            for n in range(RACERS)
        ]
        deletion = live_api.execute("mutation($id: ID!) { deleteProject(id: $id) }", {"id": project}, token=alice.access_token)
        deleted, *created = await asyncio.gather(deletion, *creations)
        assert deleted.ok()["deleteProject"] is True
        assert {result.error_code for result in created} <= {None, "NOT_FOUND"}, [result.body for result in created]
