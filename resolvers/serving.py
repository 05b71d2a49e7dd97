"""How the app meets uvicorn: its options from the settings, an HTTP protocol that does not wait
forever for a request's headers, and server logs that never show a token.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from services.settings import Settings

try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # pragma: no cover - httptools comes with uvicorn[standard]
    HttpToolsProtocol = None  # type: ignore[assignment, misc]

logger = logging.getLogger(__name__)

def server_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's options for `main.py serve` (and the tests' live servers)."""
    limits = settings.limits
    return {
        "http": http_protocol(limits.header_timeout_seconds),
        "ws_max_size": limits.max_websocket_message_bytes,
        # uvicorn believes X-Forwarded-For from 127.0.0.1 unless told otherwise; we believe it
        # only from the proxies named in TRUSTED_PROXIES.
        "proxy_headers": bool(settings.trusted_proxies),
        "forwarded_allow_ips": list(settings.trusted_proxies),
    }


class _HeaderDeadline:
    """Closes a connection whose request headers have not all arrived `header_timeout` seconds
    after it opened or after its previous response (uvicorn has no such limit: a client sending
    a byte now and then would hold the connection for ever)."""

    header_timeout: float
    transport: asyncio.Transport
    app: ASGIApp

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)  # type: ignore[misc]
        self._deadline: asyncio.TimerHandle | None = None
        self._arm()
        inner = self.app

        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            # Called once a request's headers are complete; the body has a deadline of its own
            # (resolvers.middleware.RequestBodyLimits).
            self._disarm()
            try:
                await inner(scope, receive, send)
            finally:
                self._arm()

        self.app = app

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)  # type: ignore[misc]

    def handle_websocket_upgrade(self, *args: Any) -> None:
        # The websocket protocol takes the connection over, with timeouts of its own.
        self._disarm()
        super().handle_websocket_upgrade(*args)  # type: ignore[misc]

    def _arm(self) -> None:
        self._disarm()
        self._deadline = asyncio.get_running_loop().call_later(self.header_timeout, self._headers_too_slow)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _headers_too_slow(self) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            logger.info("connection closed: request headers not received in time")
            message = b"request headers not received in time"
            self.transport.write(
                b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\n"
                b"content-length: %d\r\nconnection: close\r\n\r\n%s" % (len(message), message)
            )
            self.transport.close()


def http_protocol(header_timeout_seconds: float) -> type[asyncio.Protocol]:
    """uvicorn's HTTP protocol (httptools when installed, else h11) with the header deadline."""
    if HttpToolsProtocol is not None:

        class HttpTools(_HeaderDeadline, HttpToolsProtocol):
            header_timeout = header_timeout_seconds

        return HttpTools

    class H11(_HeaderDeadline, H11Protocol):  # pragma: no cover
        header_timeout = header_timeout_seconds

    return H11


# `token=` and `access_token=` query parameters, up to the next separator.
TOKEN_PARAMETER = re.compile(r"((?:^|[?&;])(?:access_)?token=)[^&;\s\"']*", re.IGNORECASE)
SERVER_LOGGERS = ("uvicorn.access", "uvicorn.error")


class RedactTokens(logging.Filter):
    """Replaces the value of `token=` query parameters in a log record's arguments (uvicorn
    logs each request's path with its query string: websocket clients may put a token there)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_redacted(arg) for arg in record.args)
        if isinstance(record.msg, str):
            record.msg = _redacted(record.msg)
        return True


def _redacted(value: object) -> object:
    if isinstance(value, str) and "token=" in value.lower():
        return TOKEN_PARAMETER.sub(r"\1[redacted]", value)
    return value


def redact_tokens_in_server_logs() -> None:
    """Once per process, whoever starts uvicorn (`main.py serve` or `uvicorn main:app`)."""
    for name in SERVER_LOGGERS:
        server_logger = logging.getLogger(name)
        if not any(isinstance(existing, RedactTokens) for existing in server_logger.filters):
            server_logger.addFilter(RedactTokens())
