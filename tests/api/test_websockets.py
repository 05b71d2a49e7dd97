"""Subscriptions over real websockets: authentication at connect, and live notifications."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import pytest
import websockets

from tests.graphql_client import GraphQLClient, Subscription, graphql_ws, until_subscribed
from tests.waiting import until_notified

NOTIFICATIONS = "subscription { notifications { eventName payload } }"
CREATE_PROJECT = 'mutation($name: String!) { createProject(input: {name: $name}) { id } }'


async def next_payload(connection: Subscription) -> dict:
    message = await asyncio.wait_for(connection.receive(), timeout=5)
    assert message["type"] == "next", message
    return message["payload"]


@pytest.mark.parametrize(
    "payload_for",
    [
        lambda token: {"token": token},
        lambda token: {"Authorization": f"Bearer {token}"},
        lambda token: {"headers": {"Authorization": f"Bearer {token}"}},
    ],
    ids=["token", "authorization", "headers"],
)
async def test_connection_init_token_authenticates_notifications(
    live_server: str, live_api: GraphQLClient, payload_for: Callable[[str], dict[str, Any]]
) -> None:
    alice = await live_api.signup("alice")
    async with graphql_ws(live_server, payload=payload_for(alice.access_token)) as connection:
        await connection.subscribe(NOTIFICATIONS)
        await until_subscribed(connection, live_api, alice)
        await live_api.execute(CREATE_PROJECT, {"name": "Atlas"}, token=alice.access_token)
        payload = await next_payload(connection)
    notification = payload["data"]["notifications"]
    assert notification["eventName"] == "project.created"
    assert notification["payload"]["name"] == "Atlas"


async def test_query_parameter_token_authenticates_notifications(
    live_server: str, live_api: GraphQLClient
) -> None:
    alice = await live_api.signup("alice")
    async with graphql_ws(live_server, query=f"?token={alice.access_token}") as connection:
        await connection.subscribe(NOTIFICATIONS)
        await until_subscribed(connection, live_api, alice)
        await live_api.execute(CREATE_PROJECT, {"name": "Atlas"}, token=alice.access_token)
        assert (await next_payload(connection))["data"]["notifications"]["eventName"] == "project.created"


async def test_notifications_carry_only_the_subscribers_own_events(
    live_server: str, live_api: GraphQLClient
) -> None:
    alice = await live_api.signup("alice")
    bob = await live_api.signup("bob")
    async with graphql_ws(live_server, payload={"token": alice.access_token}) as connection:
        await connection.subscribe(NOTIFICATIONS)
        await until_subscribed(connection, live_api, alice)
        await live_api.execute(CREATE_PROJECT, {"name": "Bob's"}, token=bob.access_token)
        await live_api.execute(CREATE_PROJECT, {"name": "Alice's"}, token=alice.access_token)
        payload = await next_payload(connection)
    assert payload["data"]["notifications"]["payload"]["name"] == "Alice's"


async def test_a_bad_token_closes_the_socket_before_any_subscription(live_server: str) -> None:
    url = live_server.replace("http://", "ws://") + "/graphql"
    async with websockets.connect(url, subprotocols=[websockets.Subprotocol("graphql-transport-ws")]) as socket:
        await socket.send(json.dumps({"type": "connection_init", "payload": {"token": "forged.token.value"}}))
        with pytest.raises(websockets.ConnectionClosed):
            await asyncio.wait_for(socket.recv(), timeout=5)
    assert socket.close_code == 4403


async def test_an_anonymous_subscription_is_unauthenticated(live_server: str) -> None:
    async with graphql_ws(live_server) as connection:
        await connection.subscribe(NOTIFICATIONS)
        message = await asyncio.wait_for(connection.receive(), timeout=5)
    assert message["type"] in ("next", "error"), message
    errors = message["payload"]["errors"] if message["type"] == "next" else message["payload"]
    assert errors[0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_the_legacy_graphql_ws_protocol_is_served(live_server: str, live_api: GraphQLClient) -> None:
    alice = await live_api.signup("alice")
    url = live_server.replace("http://", "ws://") + "/graphql"
    async with websockets.connect(url, subprotocols=[websockets.Subprotocol("graphql-ws")]) as socket:
        await socket.send(json.dumps({"type": "connection_init", "payload": {"token": alice.access_token}}))
        assert json.loads(await socket.recv())["type"] == "connection_ack"
        await socket.send(json.dumps({"id": "1", "type": "start", "payload": {"query": NOTIFICATIONS}}))

        async def next_message() -> dict[str, Any]:
            message = json.loads(await socket.recv())
            while message["type"] == "ka":
                message = json.loads(await socket.recv())
            assert message["type"] == "data", message
            return dict(message)

        async def next_name() -> str:
            return str((await next_message())["payload"]["data"]["notifications"]["payload"]["name"])

        await until_notified(lambda name: live_api.create_project(alice, name), next_name)
        await live_api.execute(CREATE_PROJECT, {"name": "Atlas"}, token=alice.access_token)
        message = await asyncio.wait_for(next_message(), timeout=5)
    assert message["payload"]["data"]["notifications"]["eventName"] == "project.created"
