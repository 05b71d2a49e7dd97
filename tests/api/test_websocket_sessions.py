"""A websocket stays only as authorized as its token: expiry, logout and account deletion close it,
each with its own close code and reason, and every new operation checks the session again."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import jwt
import pytest
import websockets
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from db.repositories.users import RefreshTokenRepository
from services.accounts.tokens import ACCESS_TOKEN_LIFETIME, TokenCodec
from services.platform.settings import Settings
from tests.api.statements import count_statements
from tests.api_fixtures import TEST_SECRET_KEY, settings_for
from tests.fakes.providers import FakeProviderState, SlowChunks
from tests.fakes.server import serve_app
from tests.graphql_client import PASSWORD, Account, GraphQLClient, Subscription, graphql_ws, until_subscribed
from tests.waiting import observe_for, token_expired, wait_until
from web.app import create_app

NOTIFICATIONS = "subscription { notifications { eventName payload } }"
LOGOUT = "mutation($token: String!) { logout(refreshToken: $token) }"
DELETE_USER = "mutation($id: ID!) { deleteUser(id: $id) }"
LOGIN = "mutation($p: String!) { login(input: {identifier: \"alice\", password: $p}) { accessToken } }"
RUN_FLOW = "subscription($input: RunInput!) { runFlow(input: $input) { __typename runId } }"
RUN_STATUS = "query($id: ID!) { run(id: $id) { status } }"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
# SESSION_CHECK_SECONDS in these tests (but where a test says otherwise).
CHECK_INTERVAL_SECONDS = 1
# Generous: the socket is re-checked every second in these tests.
CLOSE_WITHIN_SECONDS = 8


@pytest.fixture
def settings(database_url: str, workdir: Path, provider_url: str) -> Settings:
    return settings_for(
        database_url,
        workdir,
        SESSION_CHECK_SECONDS=str(CHECK_INTERVAL_SECONDS),
        WEBSOCKET_INIT_TIMEOUT_SECONDS="1",
        MISTRAL_API_KEY="test-key",
        MISTRAL_BASE_URL=provider_url,
    )


@asynccontextmanager
async def server_with(
    database_url: str, workdir: Path, **overrides: str
) -> AsyncIterator[tuple[str, GraphQLClient]]:
    """A live server with settings of its own: its base URL and a client of it."""
    application = create_app(settings_for(database_url, workdir, **overrides))
    async with (
        application.router.lifespan_context(application),
        serve_app(application) as base_url,
        httpx.AsyncClient(base_url=base_url) as http,
    ):
        yield base_url, GraphQLClient(http)


def session_of(account: Account) -> uuid.UUID:
    return uuid.UUID(jwt.decode(account.access_token, options={"verify_signature": False})["sid"])


def token_expiring_in(account: Account, seconds: float) -> str:
    """An access token of `account`'s login session that expires `seconds` from now."""
    session_id = session_of(account)
    issued_at = datetime.now(UTC) - ACCESS_TOKEN_LIFETIME + timedelta(seconds=seconds)
    token, _ = TokenCodec(TEST_SECRET_KEY).issue(
        "access", account_kind="user", account_id=int(account.id), session_id=session_id, now=issued_at
    )
    return token


async def closed(socket: websockets.ClientConnection) -> tuple[int | None, str | None]:
    """Reads until the server closes the socket; its close code and reason."""
    with pytest.raises(websockets.ConnectionClosed):
        async with asyncio.timeout(CLOSE_WITHIN_SECONDS):
            while True:
                await socket.recv()
    return socket.close_code, socket.close_reason


SUBPROTOCOLS = pytest.mark.parametrize("subprotocol", ["graphql-transport-ws", "graphql-ws"])


async def refused(base_url: str, token: str, subprotocol: str) -> tuple[int | None, str | None]:
    """The close code and reason of a socket that says connection_init with `token`."""
    url = base_url.replace("http://", "ws://") + "/graphql"
    async with websockets.connect(url, subprotocols=[websockets.Subprotocol(subprotocol)]) as socket:
        await socket.send(json.dumps({"type": "connection_init", "payload": {"token": token}}))
        return await closed(socket)


async def subscribed(connection: Subscription, api: GraphQLClient, account: Account) -> None:
    await connection.subscribe(NOTIFICATIONS)
    await until_subscribed(connection, api, account)


async def test_logout_closes_the_socket_as_session_revoked(live_server: str, live_api: GraphQLClient) -> None:
    alice = await live_api.signup("alice")
    async with graphql_ws(live_server, payload={"token": alice.access_token}) as connection:
        await subscribed(connection, live_api, alice)
        (await live_api.execute(LOGOUT, {"token": alice.refresh_token})).ok()
        assert await closed(connection.socket) == (4403, "session revoked")


async def test_a_logout_made_by_another_process_closes_the_socket(
    live_server: str, live_api: GraphQLClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    alice = await live_api.signup("alice")
    async with graphql_ws(live_server, payload={"token": alice.access_token}) as connection:
        await subscribed(connection, live_api, alice)
        # Another server process shares the database, not this one's memory.
        async with session_factory() as session:
            await RefreshTokenRepository(session).revoke_session(session_of(alice), datetime.now(UTC))
            await session.commit()
        assert await closed(connection.socket) == (4403, "session revoked")


async def test_a_logout_made_by_another_process_is_refused_over_http_within_the_check_interval(
    live_api: GraphQLClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    alice = await live_api.signup("alice")
    (await live_api.execute("{ me { id } }", token=alice.access_token)).ok()  # remembered as open
    async with session_factory() as session:
        await RefreshTokenRepository(session).revoke_session(session_of(alice), datetime.now(UTC))
        await session.commit()

    async def refused() -> bool:
        return (await live_api.execute("{ me { id } }", token=alice.access_token)).error_code == "UNAUTHENTICATED"

    # SESSION_CHECK_SECONDS is 1 here: refused once the remembered state is a second old.
    await wait_until(refused, timeout=3 * CHECK_INTERVAL_SECONDS, what="the revoked session to be refused")


async def test_logout_ends_a_run_flow_in_progress_on_the_socket(
    live_server: str, live_api: GraphQLClient, fake_providers: FakeProviderState
) -> None:
    alice = await live_api.signup("alice")
    fake_providers.fail_next(*[SlowChunks(seconds=1.0)] * 5)
    graph = json.loads((EXAMPLES / "story-flow.json").read_text())
    async with graphql_ws(live_server, payload={"token": alice.access_token}) as connection:
        await connection.subscribe(RUN_FLOW, {"input": {"graph": graph, "providerId": "mistral"}})
        first = await asyncio.wait_for(connection.receive(), timeout=10)
        run_id = first["payload"]["data"]["runFlow"]["runId"]
        (await live_api.execute(LOGOUT, {"token": alice.refresh_token})).ok()
        assert (await closed(connection.socket))[0] == 4403
    token = (await live_api.execute(LOGIN, {"p": PASSWORD})).ok()["login"]["accessToken"]

    async def status() -> str | None:
        found = (await live_api.execute(RUN_STATUS, {"id": run_id}, token=token)).ok()["run"]["status"]
        return None if found == "RUNNING" else str(found)

    assert await wait_until(status, what="the run to end") == "CANCELLED"


async def test_deleting_the_account_closes_the_socket_as_account_deleted(
    live_server: str, live_api: GraphQLClient
) -> None:
    alice = await live_api.signup("alice")
    async with graphql_ws(live_server, payload={"token": alice.access_token}) as connection:
        await subscribed(connection, live_api, alice)
        (await live_api.execute(DELETE_USER, {"id": alice.id}, token=alice.access_token)).ok()
        assert await closed(connection.socket) == (4403, "account deleted")


async def test_a_token_expiring_closes_the_socket_as_token_expired(live_server: str, live_api: GraphQLClient) -> None:
    alice = await live_api.signup("alice")
    async with graphql_ws(live_server, payload={"token": token_expiring_in(alice, 2)}) as connection:
        await subscribed(connection, live_api, alice)
        assert await closed(connection.socket) == (4401, "token expired")


@SUBPROTOCOLS
async def test_an_expired_token_is_refused_at_connect_as_token_expired(
    live_server: str, live_api: GraphQLClient, subprotocol: str
) -> None:
    alice = await live_api.signup("alice")
    assert await refused(live_server, token_expiring_in(alice, -60), subprotocol) == (4401, "token expired")


@SUBPROTOCOLS
async def test_a_garbage_token_is_refused_at_connect_as_invalid(live_server: str, subprotocol: str) -> None:
    assert await refused(live_server, "garbage", subprotocol) == (4403, "invalid token")


@SUBPROTOCOLS
async def test_a_token_of_a_closed_session_is_refused_at_connect_as_session_revoked(
    live_server: str, live_api: GraphQLClient, subprotocol: str
) -> None:
    alice = await live_api.signup("alice")
    (await live_api.execute(LOGOUT, {"token": alice.refresh_token})).ok()
    assert await refused(live_server, alice.access_token, subprotocol) == (4403, "session revoked")


async def test_a_new_operation_after_logout_is_refused_before_the_socket_is_checked(
    database_url: str, workdir: Path, engine: AsyncEngine
) -> None:
    async with server_with(database_url, workdir, SESSION_CHECK_SECONDS="3600") as (base_url, api):
        alice = await api.signup("alice")
        async with graphql_ws(base_url, payload={"token": alice.access_token}) as connection:
            (await api.execute(LOGOUT, {"token": alice.refresh_token})).ok()
            await connection.subscribe(NOTIFICATIONS)
            message = await asyncio.wait_for(connection.receive(), timeout=5)
    errors = message["payload"]["errors"] if message["type"] == "next" else message["payload"]
    assert errors[0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_a_new_operation_after_the_token_expired_is_refused_before_the_socket_is_checked(
    database_url: str, workdir: Path, engine: AsyncEngine
) -> None:
    async with server_with(database_url, workdir, SESSION_CHECK_SECONDS="3600") as (base_url, api):
        alice = await api.signup("alice")
        token = token_expiring_in(alice, 1)
        async with graphql_ws(base_url, payload={"token": token}) as connection:
            await wait_until(lambda: token_expired(token), what="the token's expiry")
            await connection.subscribe(NOTIFICATIONS)
            message = await asyncio.wait_for(connection.receive(), timeout=5)
    errors = message["payload"]["errors"] if message["type"] == "next" else message["payload"]
    assert errors[0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert "expired" in errors[0]["message"]


@SUBPROTOCOLS
async def test_a_socket_without_connection_init_is_closed(live_server: str, subprotocol: str) -> None:
    url = live_server.replace("http://", "ws://") + "/graphql"
    async with websockets.connect(url, subprotocols=[websockets.Subprotocol(subprotocol)]) as socket:
        code, reason = await closed(socket)
    assert code == 4408


async def test_the_sockets_of_one_login_session_share_their_session_checks(
    database_url: str, workdir: Path, engine: AsyncEngine
) -> None:
    from contextlib import AsyncExitStack

    application = create_app(settings_for(database_url, workdir, SESSION_CHECK_SECONDS=str(CHECK_INTERVAL_SECONDS)))
    async with (
        application.router.lifespan_context(application),
        serve_app(application) as base_url,
        httpx.AsyncClient(base_url=base_url) as http,
        AsyncExitStack() as sockets,
    ):
        alice = await GraphQLClient(http).signup("alice")
        for _ in range(10):
            await sockets.enter_async_context(graphql_ws(base_url, payload={"token": alice.access_token}))
        with count_statements(application) as statements:
            await observe_for(2.2 * CHECK_INTERVAL_SECONDS)
    checks = [statement for statement in statements if "refresh_tokens" in statement]
    # Each socket alone would read it every second: 20 reads or more.
    assert 1 <= len(checks) <= 6
