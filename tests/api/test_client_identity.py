"""Where a token and a client's address may come from: `?token=` only on websockets and never in
the server's logs; X-Forwarded-For only from a trusted proxy."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack, asynccontextmanager, contextmanager
from pathlib import Path

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.api_fixtures import settings_for
from tests.fakes.server import serve_app
from tests.graphql_client import GraphQLClient, graphql_ws
from web.app import create_app
from web.serving import server_options

ME = "{ me { id } }"
LOGIN = "mutation($i: String!) { login(input: {identifier: $i, password: \"wrong password!!\"}) { accessToken } }"


async def test_plain_http_get_ignores_a_query_token(api: GraphQLClient) -> None:
    alice = await api.signup("alice")
    response = await api.http.get("/graphql", params={"query": ME, "token": alice.access_token})
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_plain_http_post_ignores_a_query_token(api: GraphQLClient) -> None:
    alice = await api.signup("alice")
    response = await api.http.post("/graphql", params={"token": alice.access_token}, json={"query": ME})
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


@contextmanager
def server_log_lines() -> Iterator[list[str]]:
    """The formatted lines of uvicorn's loggers while the block runs."""
    lines: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    handler = Keep(level=logging.DEBUG)
    loggers = [logging.getLogger(name) for name in ("uvicorn.access", "uvicorn.error")]
    for logger in loggers:
        logger.addHandler(handler)
    try:
        yield lines
    finally:
        for logger in loggers:
            logger.removeHandler(handler)


@asynccontextmanager
async def served(database_url: str, workdir: Path, **overrides: str) -> AsyncIterator[GraphQLClient]:
    """The app as `main.py serve` runs it, with an access log; a client of it."""
    settings = settings_for(database_url, workdir, **overrides)
    application = create_app(settings)
    options = {**server_options(settings), "access_log": True, "log_level": "info"}
    async with (
        application.router.lifespan_context(application),
        serve_app(application, **options) as base_url,
        httpx.AsyncClient(base_url=base_url) as http,
    ):
        yield GraphQLClient(http)


async def test_query_tokens_never_reach_the_server_log(
    database_url: str, workdir: Path, engine: AsyncEngine
) -> None:
    with ExitStack() as capturing:  # the capture outlasts the server (which sets its loggers up)
        async with served(database_url, workdir) as api:
            alice = await api.signup("alice")
            lines = capturing.enter_context(server_log_lines())
            await api.http.get("/graphql", params={"query": ME, "token": alice.access_token})
            async with graphql_ws(str(api.http.base_url), query=f"?token={alice.access_token}"):
                pass
        # The server has stopped: whatever it logs of the socket, its close included, is logged.
    assert any("/graphql?" in line for line in lines), lines
    assert not [line for line in lines if alice.access_token in line]


async def failed_logins_until_limited(api: GraphQLClient, attempts: int) -> int | None:
    """Fails `attempts` logins, each for a new identifier and from a new X-Forwarded-For; the
    number of the first one refused as RATE_LIMITED (None: none was)."""
    for attempt in range(1, attempts + 1):
        response = await api.http.post(
            "/graphql",
            json={"query": LOGIN, "variables": {"i": f"user{attempt}"}},
            headers={"X-Forwarded-For": f"198.51.100.{attempt}"},
        )
        if response.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED":
            return attempt
    return None


async def test_x_forwarded_for_from_an_untrusted_peer_is_ignored(
    database_url: str, workdir: Path, engine: AsyncEngine
) -> None:
    # Two attempts per identifier make ten per address (LoginRateLimiter's factor of five).
    async with served(database_url, workdir, LOGIN_ATTEMPTS="2") as api:
        assert await failed_logins_until_limited(api, 12) == 11


async def test_x_forwarded_for_from_a_trusted_proxy_is_the_client_address(
    database_url: str, workdir: Path, engine: AsyncEngine
) -> None:
    async with served(database_url, workdir, LOGIN_ATTEMPTS="2", TRUSTED_PROXIES="127.0.0.1") as api:
        assert await failed_logins_until_limited(api, 12) is None
