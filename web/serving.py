"""How the app meets uvicorn: its options from the settings, an HTTP protocol that does not wait
forever for a request's headers, and server logs that never show a token.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import re
import signal
import socket
from collections.abc import Awaitable, Callable
from types import FrameType
from typing import Any

import uvicorn
import uvicorn.config
from starlette.applications import Starlette
from starlette.types import ASGIApp, Receive, Scope, Send

from services.platform.logs import JSON_FORMATTER, TEXT_FORMATTER
from services.platform.settings import Settings
from web.uvicorn_internals import capture_signal, http_protocol_class

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
            # (web.middleware.RequestBodyLimits).
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
    base = http_protocol_class()
    return type(base.__name__, (_HeaderDeadline, base), {"header_timeout": header_timeout_seconds})


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


class DrainingServer(uvicorn.Server):
    """uvicorn, stopping gently on SIGTERM: while `drain` runs (no new runs are taken, live ones
    get their grace period, then the rest are cancelled) the server still answers, so followers
    see their runs end and a load balancer sees /health/ready fail; then it stops as uvicorn
    does. Any other signal, or a second one, stops it at once as uvicorn would."""

    def __init__(self, config: uvicorn.Config, drain: Callable[[], Awaitable[None]]) -> None:
        super().__init__(config)
        self._drain = drain
        self._draining: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        self._loop = asyncio.get_running_loop()
        await super().serve(sockets)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if sig != signal.SIGTERM or self._draining is not None or self.should_exit or self._loop is None:
            super().handle_exit(sig, frame)
            return
        capture_signal(self, sig)
        # A signal handler may run anywhere in the loop's own code: schedule, do not touch it.
        self._loop.call_soon_threadsafe(self._start_draining)

    def _start_draining(self) -> None:
        if self._draining is None:
            self._draining = asyncio.create_task(self._drain_then_exit(), name="drain on SIGTERM")

    async def _drain_then_exit(self) -> None:
        logger.warning("SIGTERM: taking no new runs; live runs get their grace period")
        try:
            await self._drain()
        except Exception:
            logger.exception("draining failed; stopping anyway")
        finally:
            self.should_exit = True


# python-json-logger: one JSON object a line, with the record's `extra` fields.


def log_config(log_format: str, level: str = "warning") -> dict[str, Any]:
    """A logging.config.dictConfig for the process: uvicorn's loggers and ours, as text (uvicorn's
    look) or as JSON lines (LOG_FORMAT=json)."""
    config = copy.deepcopy(uvicorn.config.LOGGING_CONFIG)
    config["formatters"]["app"] = TEXT_FORMATTER
    if log_format == "json":
        config["formatters"] = {"default": JSON_FORMATTER, "access": JSON_FORMATTER, "app": JSON_FORMATTER}
    config["handlers"]["app"] = {"formatter": "app", "class": "logging.StreamHandler", "stream": "ext://sys.stderr"}
    # Our own loggers (and the libraries': alembic, sqlalchemy) stay quiet at uvicorn's default
    # `info`: warnings and errors only, unless debugging.
    wanted = logging.getLevelName(level.upper())
    root_level = wanted if wanted == logging.DEBUG else max(wanted, logging.WARNING)
    config["root"] = {"handlers": ["app"], "level": logging.getLevelName(root_level)}
    return config


def serve_until_drained(app: Starlette, settings: Settings, *, host: str, port: int, log_level: str) -> None:
    """`main.py serve`: uvicorn with our options, stopping gently on SIGTERM (DrainingServer)."""

    async def drain() -> None:
        await app.state.backend.runs.close(settings.shutdown_grace_seconds)

    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        log_config=log_config(settings.log_format, log_level),
        **server_options(settings),
    )
    DrainingServer(config, drain).run()
