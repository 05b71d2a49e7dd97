"""A small GraphQL client for tests: queries over HTTP, subscriptions over graphql-transport-ws."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import websockets

from tests.waiting import until_notified

PASSWORD = "correct horse battery"
SIGNUP = """
mutation Signup($input: SignupInput!) {
  signup(input: $input) { accessToken refreshToken expiresIn user { id username } }
}
"""


@dataclass
class Result:
    status_code: int
    body: dict[str, Any]

    @property
    def data(self) -> Any:
        return self.body.get("data")

    @property
    def errors(self) -> list[dict[str, Any]]:
        return self.body.get("errors") or []

    @property
    def error_code(self) -> str | None:
        """The first error's extensions.code (None when the operation succeeded)."""
        return self.errors[0].get("extensions", {}).get("code") if self.errors else None

    def ok(self) -> Any:
        assert not self.errors, f"unexpected errors: {self.errors}"
        return self.data


@dataclass(frozen=True)
class Account:
    id: str
    username: str
    access_token: str
    refresh_token: str


class GraphQLClient:
    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def execute(
        self, query: str, variables: dict[str, Any] | None = None, *, token: str | None = None
    ) -> Result:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = await self.http.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )
        return Result(response.status_code, _json_or_empty(response))

    async def signup(self, username: str, password: str = PASSWORD) -> Account:
        data = (
            await self.execute(
                SIGNUP,
                {"input": {"email": f"{username}@example.com", "username": username, "password": password}},
            )
        ).ok()["signup"]
        return Account(
            id=data["user"]["id"],
            username=username,
            access_token=data["accessToken"],
            refresh_token=data["refreshToken"],
        )


    async def create_project(self, owner: Account, name: str = "Atlas") -> str:
        """A new project of `owner`'s; returns its id."""
        result = await self.execute(
            "mutation($name: String!) { createProject(input: {name: $name}) { id } }",
            {"name": name},
            token=owner.access_token,
        )
        return str(result.ok()["createProject"]["id"])


def _json_or_empty(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


class Subscription:
    """One graphql-transport-ws connection; `subscribe` starts an operation on it."""

    def __init__(self, socket: websockets.ClientConnection) -> None:
        self.socket = socket
        self._next_id = 0

    async def subscribe(self, query: str, variables: dict[str, Any] | None = None) -> str:
        self._next_id += 1
        operation_id = str(self._next_id)
        await self.send(
            {"id": operation_id, "type": "subscribe", "payload": {"query": query, "variables": variables or {}}}
        )
        return operation_id

    async def send(self, message: dict[str, Any]) -> None:
        await self.socket.send(json.dumps(message))

    async def receive(self) -> dict[str, Any]:
        """The next message other than a ping/pong."""
        while True:
            message = json.loads(await self.socket.recv())
            if message["type"] == "ping":
                await self.send({"type": "pong"})
            elif message["type"] != "pong":
                return message


@asynccontextmanager
async def graphql_ws(
    base_url: str, *, payload: dict[str, Any] | None = None, query: str = ""
) -> AsyncIterator[Subscription]:
    """Open, say connection_init with `payload`, and wait for the ack."""
    url = base_url.replace("http://", "ws://") + "/graphql" + query
    async with websockets.connect(url, subprotocols=[websockets.Subprotocol("graphql-transport-ws")]) as socket:
        connection = Subscription(socket)
        await connection.send({"type": "connection_init", "payload": payload or {}})
        ack = await connection.receive()
        assert ack["type"] == "connection_ack", ack
        yield connection


async def until_subscribed(connection: Subscription, api: GraphQLClient, owner: Account) -> None:
    """Waits until `connection`'s `notifications { payload }` subscription is live: probes are
    projects of `owner`'s (see tests.waiting.until_notified)."""

    async def probe(name: str) -> None:
        await api.create_project(owner, name)

    async def next_name() -> str:
        message = await connection.receive()
        assert message["type"] == "next", message
        return str(message["payload"]["data"]["notifications"]["payload"]["name"])

    await until_notified(probe, next_name)
