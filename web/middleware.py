"""ASGI middleware that bounds what one client can make the server hold: a request body's size
and the time it takes to arrive, and the size of a websocket message.

These run inside the app, so `uvicorn main:app` gets them as well as `main.py serve` (which also
sets uvicorn's own caps, see web.serving).
"""

from __future__ import annotations

import asyncio
import logging

from starlette.requests import ClientDisconnect
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

logger = logging.getLogger(__name__)

# RFC 6455: "a message that is too big for it to process".
MESSAGE_TOO_BIG = 1009


class RequestBodyLimits:
    """Answers 413 to a request body over `max_bytes`, counted as it arrives (no server caps it),
    and 408 to one that has not arrived `timeout_seconds` after the request started. A client
    that goes away mid-body is logged in one quiet line."""

    def __init__(self, app: ASGIApp, *, max_bytes: int, timeout_seconds: float) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.timeout_seconds = timeout_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._too_large()(scope, receive, send)
            return
        deadline = asyncio.get_running_loop().time() + self.timeout_seconds
        received = 0
        body_complete = False
        response_started = False

        async def limited_receive() -> Message:
            nonlocal received, body_complete
            if body_complete:
                return await receive()  # only http.disconnect is left to come
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                raise _BodyTooSlow from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _BodyTooLarge
                body_complete = not message.get("more_body", False)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            response_started = response_started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _BodyTooLarge:
            if not response_started:
                await self._too_large()(scope, receive, send)
        except _BodyTooSlow:
            logger.info("request body not received in time", extra={"timeout_seconds": self.timeout_seconds})
            if not response_started:
                await self._too_slow()(scope, receive, send)
        except ClientDisconnect:
            logger.info("client disconnected before sending the whole request body")

    def _too_large(self) -> Response:
        return PlainTextResponse(
            f"request body too large: the limit is {self.max_bytes} bytes", status_code=413
        )

    def _too_slow(self) -> Response:
        # The rest of the body may still come: the connection cannot carry another request.
        return PlainTextResponse(
            f"request body not received within {self.timeout_seconds:g} seconds",
            status_code=408,
            headers={"connection": "close"},
        )


class _BodyTooLarge(Exception):
    pass


class _BodyTooSlow(Exception):
    pass


class WebSocketMessageLimit:
    """Closes a websocket with 1009 when a message over `max_bytes` arrives; the app never sees
    the message (uvicorn's `ws_max_size` does the same earlier, when `main.py serve` sets it)."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            await self.app(scope, receive, send)
            return
        closed = False

        async def limited_receive() -> Message:
            nonlocal closed
            message = await receive()
            if message["type"] == "websocket.receive" and self._size(message) > self.max_bytes:
                closed = True
                await send({"type": "websocket.close", "code": MESSAGE_TOO_BIG, "reason": "message too big"})
                logger.info("websocket message over the size limit", extra={"max_bytes": self.max_bytes})
                return {"type": "websocket.disconnect", "code": MESSAGE_TOO_BIG}
            return message

        async def guarded_send(message: Message) -> None:
            # After our close, the app's last words (a close of its own) go nowhere.
            if not closed:
                await send(message)

        await self.app(scope, limited_receive, guarded_send)

    def _size(self, message: Message) -> int:
        text = message.get("text")
        if text is None:
            return len(message.get("bytes") or b"")
        # UTF-8 takes 1 to 4 bytes a character: only a text near the limit is encoded to tell.
        if len(text) > self.max_bytes or len(text) * 4 <= self.max_bytes:
            return len(text)
        return len(text.encode())
