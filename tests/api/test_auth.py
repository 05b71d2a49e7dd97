"""Sign-up, login, refresh-token rotation, logout and the backoffice (ARCHITECTURE.md, "Accounts and ownership")."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from tests.api_fixtures import create_admin, settings_for
from tests.graphql_client import PASSWORD, SIGNUP, GraphQLClient
from web.app import create_app

LOGIN = """
mutation Login($identifier: String!, $password: String!) {
  login(input: {identifier: $identifier, password: $password}) {
    accessToken refreshToken expiresIn user { __typename id username }
  }
}
"""
BACKOFFICE_LOGIN = LOGIN.replace("  login(", "  backofficeLogin(")
REFRESH = "mutation($token: String!) { refreshToken(refreshToken: $token) { accessToken refreshToken } }"
LOGOUT = "mutation($token: String!) { logout(refreshToken: $token) }"
ME = "{ me { id username email } }"


async def test_signup_returns_tokens_that_identify_the_new_user(api: GraphQLClient) -> None:
    alice = await api.signup("alice")
    me = (await api.execute(ME, token=alice.access_token)).ok()["me"]
    assert me == {"id": alice.id, "username": "alice", "email": "alice@example.com"}


@pytest.mark.parametrize("identifier", ["alice", "alice@example.com", "ALICE@example.com"])
async def test_login_accepts_username_or_email(api: GraphQLClient, identifier: str) -> None:
    await api.signup("alice")
    result = await api.execute(LOGIN, {"identifier": identifier, "password": PASSWORD})
    payload = result.ok()["login"]
    assert payload["user"]["username"] == "alice"
    assert payload["expiresIn"] == 30 * 60


async def test_login_with_a_wrong_password_is_refused(api: GraphQLClient) -> None:
    await api.signup("alice")
    result = await api.execute(LOGIN, {"identifier": "alice", "password": "wrong password!!"})
    assert result.error_code == "UNAUTHENTICATED"
    assert result.data is None


async def test_login_attempts_are_rate_limited_per_identifier(api: GraphQLClient) -> None:
    await api.signup("alice")
    for _ in range(10):
        failed = await api.execute(LOGIN, {"identifier": "alice", "password": "wrong password!!"})
        assert failed.error_code == "UNAUTHENTICATED"
    limited = await api.execute(LOGIN, {"identifier": "alice", "password": PASSWORD})
    assert limited.error_code == "RATE_LIMITED"
    assert limited.errors[0]["extensions"]["retryAfterSeconds"] > 0


@pytest.mark.parametrize("variant", ["  alice  ", "ALICE", "\tAlice "])
async def test_padding_or_recasing_the_identifier_does_not_escape_the_login_limit(
    api: GraphQLClient, variant: str
) -> None:
    await api.signup("alice")
    for _ in range(10):
        failed = await api.execute(LOGIN, {"identifier": "alice", "password": "wrong password!!"})
        assert failed.error_code == "UNAUTHENTICATED"
    limited = await api.execute(LOGIN, {"identifier": variant, "password": "wrong password!!"})
    assert limited.error_code == "RATE_LIMITED"


async def test_signups_are_limited_per_address(database_url: str, workdir: Path, engine: AsyncEngine) -> None:
    app = create_app(settings_for(database_url, workdir, SIGNUPS_PER_ADDRESS_PER_HOUR="3"))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            api = GraphQLClient(http)
            for name in ("ann", "ben", "cat"):
                await api.signup(name)
            result = await api.execute(SIGNUP, {"input": {"email": "dan@example.com", "username": "dan", "password": PASSWORD}})
    assert result.error_code == "RATE_LIMITED"
    assert result.errors[0]["extensions"]["retryAfterSeconds"] > 0


async def test_refresh_token_gives_a_new_working_pair(api: GraphQLClient) -> None:
    alice = await api.signup("alice")
    pair = (await api.execute(REFRESH, {"token": alice.refresh_token})).ok()["refreshToken"]
    assert pair["refreshToken"] != alice.refresh_token
    assert (await api.execute(ME, token=pair["accessToken"])).ok()["me"]["username"] == "alice"


async def test_a_used_refresh_token_is_refused(api: GraphQLClient) -> None:
    alice = await api.signup("alice")
    (await api.execute(REFRESH, {"token": alice.refresh_token})).ok()
    reused = await api.execute(REFRESH, {"token": alice.refresh_token})
    assert reused.error_code == "UNAUTHENTICATED"


async def test_reusing_a_refresh_token_ends_the_whole_session(api: GraphQLClient) -> None:
    alice = await api.signup("alice")
    pair = (await api.execute(REFRESH, {"token": alice.refresh_token})).ok()["refreshToken"]
    await api.execute(REFRESH, {"token": alice.refresh_token})
    assert (await api.execute(ME, token=pair["accessToken"])).error_code == "UNAUTHENTICATED"
    assert (await api.execute(REFRESH, {"token": pair["refreshToken"]})).error_code == "UNAUTHENTICATED"


async def test_logout_revokes_the_session(api: GraphQLClient) -> None:
    alice = await api.signup("alice")
    assert (await api.execute(LOGOUT, {"token": alice.refresh_token})).ok() == {"logout": True}
    assert (await api.execute(ME, token=alice.access_token)).error_code == "UNAUTHENTICATED"
    assert (await api.execute(REFRESH, {"token": alice.refresh_token})).error_code == "UNAUTHENTICATED"


async def test_logout_takes_effect_for_a_token_used_just_before(api: GraphQLClient) -> None:
    # The token's claims and its session's state are both remembered by then (services.accounts.sessions).
    alice = await api.signup("alice")
    assert (await api.execute(ME, token=alice.access_token)).ok()["me"]["username"] == "alice"
    (await api.execute(LOGOUT, {"token": alice.refresh_token})).ok()
    assert (await api.execute(ME, token=alice.access_token)).error_code == "UNAUTHENTICATED"


async def test_requests_of_two_users_in_turn_each_get_their_own_identity(api: GraphQLClient) -> None:
    alice, bob = await api.signup("alice"), await api.signup("bob")
    for _ in range(3):
        assert (await api.execute(ME, token=alice.access_token)).ok()["me"]["username"] == "alice"
        assert (await api.execute(ME, token=bob.access_token)).ok()["me"]["username"] == "bob"


async def test_logout_leaves_other_sessions_open(api: GraphQLClient) -> None:
    alice = await api.signup("alice")
    other = (await api.execute(LOGIN, {"identifier": "alice", "password": PASSWORD})).ok()["login"]
    (await api.execute(LOGOUT, {"token": alice.refresh_token})).ok()
    assert (await api.execute(ME, token=other["accessToken"])).ok()["me"]["username"] == "alice"


async def test_an_access_token_is_refused_as_a_refresh_token(api: GraphQLClient) -> None:
    alice = await api.signup("alice")
    assert (await api.execute(REFRESH, {"token": alice.access_token})).error_code == "UNAUTHENTICATED"


async def test_a_refresh_token_is_refused_as_an_access_token(api: GraphQLClient) -> None:
    alice = await api.signup("alice")
    assert (await api.execute(ME, token=alice.refresh_token)).error_code == "UNAUTHENTICATED"


async def test_anonymous_me_is_unauthenticated(api: GraphQLClient) -> None:
    assert (await api.execute(ME)).error_code == "UNAUTHENTICATED"


async def test_backoffice_login_works_for_an_admin_made_on_the_command_line(
    api: GraphQLClient, app: Starlette
) -> None:
    await create_admin(app)
    payload = (await api.execute(BACKOFFICE_LOGIN, {"identifier": "root", "password": PASSWORD})).ok()
    assert payload["backofficeLogin"]["user"]["__typename"] == "BackofficeUser"


async def test_a_user_cannot_log_in_to_the_backoffice(api: GraphQLClient) -> None:
    await api.signup("alice")
    result = await api.execute(BACKOFFICE_LOGIN, {"identifier": "alice", "password": PASSWORD})
    assert result.error_code == "UNAUTHENTICATED"


async def test_a_backoffice_token_creates_backoffice_users(api: GraphQLClient, app: Starlette) -> None:
    await create_admin(app)
    root = (await api.execute(BACKOFFICE_LOGIN, {"identifier": "root", "password": PASSWORD})).ok()
    created = await api.execute(
        'mutation { createBackofficeUser(input: {email: "ops@example.com", username: "ops", '
        'password: "another long passphrase"}) { username } }',
        token=root["backofficeLogin"]["accessToken"],
    )
    assert created.ok() == {"createBackofficeUser": {"username": "ops"}}


async def test_a_backoffice_token_is_not_a_user_token(api: GraphQLClient, app: Starlette) -> None:
    await create_admin(app)
    root = (await api.execute(BACKOFFICE_LOGIN, {"identifier": "root", "password": PASSWORD})).ok()
    result = await api.execute(
        'mutation { createProject(input: {name: "x"}) { id } }',
        token=root["backofficeLogin"]["accessToken"],
    )
    assert result.error_code == "FORBIDDEN"


