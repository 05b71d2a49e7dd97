"""Serve an ASGI app with uvicorn inside the test's event loop, on a free 127.0.0.1 port."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import uvicorn
from starlette.types import ASGIApp

from tests.waiting import wait_until


class _TestServer(uvicorn.Server):
    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        # The test runner owns the process's signals: Ctrl-C must stop pytest, not this server.
        yield


@asynccontextmanager
async def serve_app(app: ASGIApp, *, lifespan: bool = False, **options: Any) -> AsyncIterator[str]:
    """Yields the base URL, e.g. http://127.0.0.1:54321; stops the server on exit. `options` go
    to uvicorn.Config (e.g. main.py serve's, from web.serving.server_options)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    defaults: dict[str, Any] = {
        "log_level": "warning",
        "access_log": False,
        # A connection a test left hanging (a stalled fake stream) must not hold up shutdown.
        "timeout_graceful_shutdown": 1,
    }
    config = uvicorn.Config(app, lifespan="on" if lifespan else "off", **{**defaults, **options})
    server = _TestServer(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:

        def started() -> bool:
            if task.done():
                task.result()  # re-raises the start-up failure
                raise RuntimeError("uvicorn stopped before it started")
            return bool(server.started)

        await wait_until(started, interval=0.01, what="uvicorn to start")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        sock.close()
