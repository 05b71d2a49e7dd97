"""What one client can make the server hold, over real sockets against a real uvicorn: slow
headers and bodies are cut off, a client leaving mid-body costs one quiet log line, and a
websocket message has a size cap whether or not uvicorn's own is set."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack, asynccontextmanager, contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import websockets
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from services.platform.settings import Settings
from tests.api_fixtures import settings_for
from tests.fakes.server import serve_app
from tests.waiting import stall
from web.app import create_app
from web.serving import server_options

# Generous bounds: the limits in these tests are one second.
GIVE_UP_AFTER_SECONDS = 8
WEBSOCKET_MESSAGE_LIMIT = 64 * 1024


@pytest.fixture
def settings(database_url: str, workdir: Path) -> Settings:
    return settings_for(
        database_url,
        workdir,
        HEADER_TIMEOUT_SECONDS="1",
        BODY_TIMEOUT_SECONDS="1",
        MAX_WEBSOCKET_MESSAGE_BYTES=str(WEBSOCKET_MESSAGE_LIMIT),
    )


@asynccontextmanager
async def raw_connection(base_url: str) -> AsyncIterator[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    address = urlsplit(base_url)
    reader, writer = await asyncio.open_connection(address.hostname, address.port)
    try:
        yield reader, writer
    finally:
        writer.close()


async def read_until_closed(reader: asyncio.StreamReader) -> bytes:
    """Everything the server sends until it closes the connection (fails if it never does).

    Read as it arrives: a client still sending when the server closed gets a reset for its next
    bytes, and a reset makes `read()` raise, losing what it had buffered (the 408)."""
    received = b""
    async with asyncio.timeout(GIVE_UP_AFTER_SECONDS):
        with contextlib.suppress(ConnectionResetError):
            while chunk := await reader.read(65536):
                received += chunk
    return received


async def dribble(writer: asyncio.StreamWriter, chunk: bytes) -> None:
    """Sends `chunk` every 0.2 s, as a slow-loris client does, until the server hangs up."""
    try:
        while True:
            writer.write(chunk)
            await writer.drain()
            await stall(0.2)
    except (ConnectionError, OSError):
        return


@contextmanager
def server_log_records() -> Iterator[list[logging.LogRecord]]:
    """Records of uvicorn's and the app's loggers while the block runs."""
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep(level=logging.DEBUG)
    loggers = [logging.getLogger(name) for name in ("uvicorn.error", "uvicorn.access", "")]
    for logger in loggers:
        logger.addHandler(handler)
    try:
        yield records
    finally:
        for logger in loggers:
            logger.removeHandler(handler)


async def test_a_client_dribbling_headers_is_disconnected(live_server: str) -> None:
    async with raw_connection(live_server) as (reader, writer):
        writer.write(b"POST /graphql HTTP/1.1\r\nHost: localhost\r\n")
        sender = asyncio.create_task(dribble(writer, b"X-Slow: y\r\n"))
        try:
            response = await read_until_closed(reader)
        finally:
            sender.cancel()
    assert response.startswith(b"HTTP/1.1 408")


async def test_a_silent_connection_is_closed(live_server: str) -> None:
    async with raw_connection(live_server) as (reader, _):
        assert (await read_until_closed(reader)).startswith(b"HTTP/1.1 408")


async def test_a_client_dribbling_the_body_gets_408(live_server: str) -> None:
    async with raw_connection(live_server) as (reader, writer):
        writer.write(
            b"POST /graphql HTTP/1.1\r\nHost: localhost\r\ncontent-type: application/json\r\n"
            b"content-length: 100000\r\n\r\n{"
        )
        sender = asyncio.create_task(dribble(writer, b" "))
        try:
            response = await read_until_closed(reader)
        finally:
            sender.cancel()
    assert response.startswith(b"HTTP/1.1 408")


async def test_a_client_leaving_mid_body_logs_no_traceback(app: Starlette, settings: Settings) -> None:
    with ExitStack() as capturing:  # the capture outlasts the server (which sets its loggers up)
        async with serve_app(app, **server_options(settings)) as base_url:
            records = capturing.enter_context(server_log_records())
            async with raw_connection(base_url) as (_, writer):
                writer.write(
                    b"POST /graphql HTTP/1.1\r\nHost: localhost\r\ncontent-type: application/json\r\n"
                    b"content-length: 1000\r\n\r\n{\"query\": "
                )
                await writer.drain()
        # The server has stopped: the app has learnt that the client is gone, and logged it.
    assert not [record for record in records if record.exc_info or record.levelno >= logging.ERROR]
    assert len([record for record in records if record.levelno >= logging.INFO]) <= 1


async def close_code_after_an_oversized_message(base_url: str) -> int | None:
    url = base_url.replace("http://", "ws://") + "/graphql"
    subprotocols = [websockets.Subprotocol("graphql-transport-ws")]
    async with websockets.connect(url, subprotocols=subprotocols, max_size=None) as socket:
        await socket.send(json.dumps({"type": "connection_init", "payload": {}}))
        assert json.loads(await socket.recv())["type"] == "connection_ack"
        padding = "x" * (2 * WEBSOCKET_MESSAGE_LIMIT)
        payload = {"query": "subscription { notifications { eventName } }", "variables": {"p": padding}}
        await socket.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
        with pytest.raises(websockets.ConnectionClosed):
            async with asyncio.timeout(GIVE_UP_AFTER_SECONDS):
                while True:
                    await socket.recv()
    return socket.close_code


async def test_a_websocket_message_over_the_limit_closes_the_socket_with_1009(live_server: str) -> None:
    assert await close_code_after_an_oversized_message(live_server) == 1009


async def test_the_websocket_message_limit_holds_under_plain_uvicorn(settings: Settings, engine: AsyncEngine) -> None:
    """`uvicorn main:app` leaves ws_max_size at uvicorn's 16 MiB: the app's own check applies."""
    application = create_app(settings)
    async with application.router.lifespan_context(application), serve_app(application) as base_url:
        assert await close_code_after_an_oversized_message(base_url) == 1009
