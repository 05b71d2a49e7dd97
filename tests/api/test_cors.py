"""Pages of other origins: CORS for HTTP, the same allowed origins for websockets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import websockets
from websockets.asyncio.client import connect

from services.platform.settings import Settings
from tests.api_fixtures import settings_for
from tests.graphql_client import GraphQLClient

EDITOR = "http://localhost:5173"
ELSEWHERE = "https://elsewhere.example"
APOLLO_HEADERS = "authorization, content-type, apollo-require-preflight, x-apollo-operation-name"


@pytest.fixture
def settings(database_url: str, workdir: Path) -> Settings:
    return settings_for(database_url, workdir, CORS_ORIGINS=f"{EDITOR},https://editor.example.com")


async def preflight(api: GraphQLClient, origin: str) -> dict[str, str]:
    response = await api.http.options(
        "/graphql",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": APOLLO_HEADERS,
        },
    )
    return {"status": str(response.status_code), **{k.lower(): v for k, v in response.headers.items()}}


async def test_a_preflight_from_an_allowed_origin_allows_apollos_headers_and_credentials(api: GraphQLClient) -> None:
    headers = await preflight(api, EDITOR)

    assert headers["status"] == "200"
    assert headers["access-control-allow-origin"] == EDITOR
    assert headers["access-control-allow-credentials"] == "true"
    assert "POST" in headers["access-control-allow-methods"]
    allowed = {header.strip() for header in headers["access-control-allow-headers"].lower().split(",")}
    assert set(APOLLO_HEADERS.split(", ")) <= allowed


async def test_a_preflight_from_another_origin_is_not_allowed(api: GraphQLClient) -> None:
    headers = await preflight(api, ELSEWHERE)

    assert "access-control-allow-origin" not in headers


async def test_a_query_from_an_allowed_origin_carries_its_allow_origin(api: GraphQLClient) -> None:
    response = await api.http.post("/graphql", json={"query": "{ health { status } }"}, headers={"Origin": EDITOR})

    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == EDITOR


async def test_a_query_without_an_origin_varies_by_origin_and_allows_none(api: GraphQLClient) -> None:
    # Caches must not serve this answer to a page of another origin.
    response = await api.http.post("/graphql", json={"query": "{ health { status } }"})

    assert response.status_code == 200
    assert response.headers.get_list("vary") == ["Origin"]
    assert "access-control-allow-origin" not in response.headers


async def test_a_query_from_another_origin_carries_no_allow_origin(api: GraphQLClient) -> None:
    response = await api.http.post("/graphql", json={"query": "{ health { status } }"}, headers={"Origin": ELSEWHERE})

    assert "access-control-allow-origin" not in response.headers


async def handshake(base_url: str, origin: str | None) -> str:
    """Opens a graphql-transport-ws socket from a page of `origin`; returns the server's first answer."""
    async with connect(
        base_url.replace("http://", "ws://") + "/graphql",
        origin=None if origin is None else websockets.Origin(origin),
        subprotocols=[websockets.Subprotocol("graphql-transport-ws")],
    ) as socket:
        await socket.send(json.dumps({"type": "connection_init", "payload": {}}))
        return str(json.loads(await socket.recv())["type"])


async def test_a_websocket_from_another_origin_is_refused_before_it_opens(live_server: str) -> None:
    with pytest.raises(websockets.InvalidStatus) as refused:
        await handshake(live_server, ELSEWHERE)

    assert refused.value.response.status_code == 403


async def test_a_websocket_from_an_allowed_origin_is_accepted(live_server: str) -> None:
    assert await handshake(live_server, EDITOR) == "connection_ack"


async def test_a_websocket_from_the_servers_own_origin_is_accepted(live_server: str) -> None:
    assert await handshake(live_server, live_server) == "connection_ack"


async def test_a_websocket_without_an_origin_is_accepted(live_server: str) -> None:
    assert await handshake(live_server, None) == "connection_ack"
