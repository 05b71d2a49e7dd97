"""Which browser pages of other origins may call the API over HTTP (CORS).

Websockets are outside CORS: Strawberry's view refuses a handshake from a page whose origin is
neither the server's own nor in the view's `allowed_origins`, given the same list (main.py).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.types import Message, Receive, Scope, Send

# What Apollo Client and Apollo's CSRF prevention send beyond the always-allowed headers.
ALLOWED_HEADERS = (
    "authorization",
    "content-type",
    "apollo-require-preflight",
    "x-apollo-operation-name",
    "apollographql-client-name",
    "apollographql-client-version",
)


class OriginOnlyCORS(CORSMiddleware):
    """Starlette's CORS middleware, stepping aside for a request without an Origin header (no
    browser page of another origin sent it: API clients, servers, same-origin GETs), which
    it would only have given `Vary: Origin`. That header it still gets, at the cost of one
    look at the request's headers instead of parsing them and every response's."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or any(name == b"origin" for name, _ in scope["headers"]):
            await super().__call__(scope, receive, send)
            return

        async def send_varying_by_origin(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = message.setdefault("headers", [])
                if any(name.lower() == b"vary" for name, _ in headers):
                    # Rare: the app varies already; Starlette's way joins the values.
                    await self.send(message, send, _NO_HEADERS)
                    return
                message["headers"] = [*headers, (b"vary", b"Origin")]
            await send(message)

        await self.app(scope, receive, send_varying_by_origin)


class _NoHeaders:
    """The request headers of a request without an Origin, as CORSMiddleware.send reads them."""

    def get(self, name: str, default: None = None) -> None:
        return None


_NO_HEADERS: Any = _NoHeaders()


def cors_middleware(origins: Collection[str]) -> Middleware:
    return Middleware(
        OriginOnlyCORS,
        allow_origins=origins,
        allow_methods=("GET", "POST"),
        allow_headers=ALLOWED_HEADERS,
        allow_credentials=True,
    )
