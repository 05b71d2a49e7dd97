"""Websocket connections that stay as authorized as their token.

A socket is authenticated when it opens, and again on every operation it starts; a watch task per
socket re-reads the login session every `SESSION_CHECK_SECONDS` and closes the socket, ending its
subscriptions, once the token has expired, the session was revoked or the account deleted. The
close code says which: 4401 for an expired token (refresh it and reconnect), 4403 otherwise, with
the reason in the close frame.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.http.async_base_view import AsyncWebSocketAdapter
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import BaseGraphQLTransportWSHandler
from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler
from strawberry.subscriptions.protocols.graphql_ws.types import ConnectionInitMessage

from schema.context import Context
from services.errors import AccountDeleted, DomainError, SessionEnded, TokenExpired

logger = logging.getLogger(__name__)

CONNECTION_INIT_TIMEOUT = (4408, "Connection initialisation timeout")
# Checked in order: the first class the error is an instance of gives the close code and reason.
CLOSE_REASONS: tuple[tuple[type[DomainError], int, str], ...] = (
    (TokenExpired, 4401, "token expired"),
    (AccountDeleted, 4403, "account deleted"),
    (SessionEnded, 4403, "session revoked"),
)
INVALID_TOKEN = (4403, "invalid token")


def close_reason(error: DomainError) -> tuple[int, str]:
    for error_class, code, reason in CLOSE_REASONS:
        if isinstance(error, error_class):
            return code, reason
    return INVALID_TOKEN


async def close_for(socket: WebSocket, error: DomainError) -> None:
    """Close a socket whose token was refused, saying why."""
    code, reason = close_reason(error)
    await SocketAdapter.close_socket(socket, code, reason)


class SocketAdapter(ASGIWebSocketAdapter):
    """Strawberry's adapter, for sockets that the server may close while operations still run."""

    async def close(self, code: int, reason: str) -> None:
        await self.close_socket(self.ws, code, reason)

    @staticmethod
    async def close_socket(socket: WebSocket, code: int, reason: str) -> None:
        # Closing twice is a no-op: a refused connection_init is closed with its own reason
        # before Strawberry closes it with a generic one.
        if socket.application_state is WebSocketState.DISCONNECTED:
            return
        with contextlib.suppress(WebSocketDisconnect):
            await socket.close(code=code, reason=reason)

    async def send_json(self, message: Mapping[str, object]) -> None:
        if self.ws.application_state is WebSocketState.DISCONNECTED:
            # Closed by the server: its operations end as soon as the client has seen the close;
            # until then what they send is dropped (raising would log each as a crash).
            return
        await super().send_json(message)


class _SessionWatch:
    """Runs `watch_session` beside the protocol handler for as long as the socket is open."""

    context: Context
    websocket: AsyncWebSocketAdapter

    async def handle(self) -> None:
        watch = asyncio.create_task(self.watch_session())
        try:
            await super().handle()  # type: ignore[misc]
        finally:
            watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watch

    async def watch_session(self) -> None:
        # Every half interval, with a state at most half an interval old: a session that ended
        # closes its sockets within the interval, and the sockets of one login session share
        # their checks (see SessionStates.read).
        interval = self.context.backend.settings.limits.session_check_seconds / 2
        while True:
            await asyncio.sleep(interval)
            try:
                await self.context.recheck_session(fresh_within=interval)
            except DomainError as error:
                code, reason = close_reason(error)
                logger.info("websocket closed: %s", reason)
                await self.websocket.close(code, reason)
                return
            except Exception as error:
                # The database is briefly unreachable: keep the socket (each new operation is
                # still checked) and try again next time, one line per socket and attempt.
                logger.warning("websocket session check failed", extra={"error": repr(error)})


class TransportWSHandler(_SessionWatch, BaseGraphQLTransportWSHandler[Context, None]):
    """graphql-transport-ws, with the session watch."""


class LegacyWSHandler(_SessionWatch, BaseGraphQLWSHandler[Context, None]):
    """The legacy graphql-ws protocol, with the session watch and the connection_init timeout
    that Strawberry applies only to graphql-transport-ws."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.connection_init_received = False

    async def handle(self) -> None:
        timeout = asyncio.create_task(self._close_without_connection_init(self.view.connection_init_wait_timeout))
        try:
            await super().handle()
        finally:
            timeout.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await timeout

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        self.connection_init_received = True
        await super().handle_connection_init(message)

    async def _close_without_connection_init(self, wait: timedelta) -> None:
        await asyncio.sleep(wait.total_seconds())
        if not self.connection_init_received:
            await self.websocket.close(*CONNECTION_INIT_TIMEOUT)
