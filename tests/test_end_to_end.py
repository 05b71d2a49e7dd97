"""The real server, started as a user would (`main.py serve`, fresh SQLite), driven by `gql`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from gql import Client, GraphQLRequest
from gql.transport.httpx import HTTPXAsyncTransport
from gql.transport.websockets import WebsocketsTransport

from tests.server_process import server_process
from tests.waiting import until_notified

SIGNUP = """mutation($input: SignupInput!) { signup(input: $input) { accessToken user { username } } }"""
LOGIN = """mutation($input: LoginInput!) { login(input: $input) { accessToken refreshToken } }"""
CREATE_PROJECT = """mutation($name: String!) { createProject(input: {name: $name}) { id name } }"""
CREATE_FLOW = """mutation($input: CreateFlowInput!) { createFlow(input: $input) { id name version graphData } }"""
READ_BACK = """query($id: ID!) { flow(id: $id) { name graphData project { name flows { id } } owner { username } } }"""
NOTIFICATIONS = "subscription { notifications { eventName payload } }"

GRAPH = {
    "nodes": [
        {"id": "idea", "type": "initialPrompt", "position": {"x": 0, "y": 0}, "data": {"text": "a lighthouse"}},
        {"id": "out", "type": "textOutput", "position": {"x": 300, "y": 0}, "data": {"label": "Prompt"}},
    ],
    "edges": [{"id": "e1", "source": "idea", "target": "out", "sourceHandle": "text", "targetHandle": "text"}],
    "viewport": {"x": 0, "y": 0, "zoom": 1},
}


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[str]:
    async with server_process({"BCRYPT_ROUNDS": "4"}, tmp_path) as process:
        yield process.url
    assert (tmp_path / "flows.sqlite3").is_file()


def request(document: str, **variables: object) -> GraphQLRequest:
    return GraphQLRequest(document, variable_values=variables)


async def test_a_user_signs_up_builds_a_flow_and_is_notified(server: str) -> None:
    credentials = {"password": "a long passphrase"}
    async with Client(transport=HTTPXAsyncTransport(url=f"{server}/graphql")) as anonymous:
        await anonymous.execute(request(SIGNUP, input={"email": "mira@example.com", "username": "mira", **credentials}))
        login = await anonymous.execute(request(LOGIN, input={"identifier": "mira@example.com", **credentials}))
    token = login["login"]["accessToken"]
    http = HTTPXAsyncTransport(url=f"{server}/graphql", headers={"Authorization": f"Bearer {token}"})
    websocket = WebsocketsTransport(
        url=server.replace("http://", "ws://") + "/graphql",
        init_payload={"token": token},
        subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
    )
    async with Client(transport=http) as api, Client(transport=websocket) as live:
        notifications = live.subscribe(request(NOTIFICATIONS))

        async def probe(name: str) -> None:
            await api.execute(request(CREATE_PROJECT, name=name))

        async def next_name() -> str:
            return str((await anext(notifications))["notifications"]["payload"]["name"])

        await until_notified(probe, next_name)  # the subscription is live before anything happens
        first_notification = asyncio.ensure_future(anext(notifications))
        project = (await api.execute(request(CREATE_PROJECT, name="Harbour")))["createProject"]
        flow = (
            await api.execute(request(
                    CREATE_FLOW,
                    input={"projectId": project["id"], "name": "Lighthouse", "graphData": GRAPH},
                ))
        )["createFlow"]
        read_back = (await api.execute(request(READ_BACK, id=flow["id"])))["flow"]

        notification = await asyncio.wait_for(first_notification, timeout=10)
        await notifications.aclose()

    assert flow["version"] == 1
    assert read_back["graphData"] == GRAPH
    assert read_back["project"] == {"name": "Harbour", "flows": [{"id": flow["id"]}]}
    assert read_back["owner"] == {"username": "mira"}
    assert notification["notifications"]["eventName"] == "project.created"
    assert notification["notifications"]["payload"]["name"] == "Harbour"
