"""Which browser pages of other origins may call the API over HTTP (CORS).

Websockets are outside CORS: Strawberry's view refuses a handshake from a page whose origin is
neither the server's own nor in the view's `allowed_origins`, given the same list (main.py).
"""

from __future__ import annotations

from collections.abc import Collection

from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware

# What Apollo Client and Apollo's CSRF prevention send beyond the always-allowed headers.
ALLOWED_HEADERS = (
    "authorization",
    "content-type",
    "apollo-require-preflight",
    "x-apollo-operation-name",
    "apollographql-client-name",
    "apollographql-client-version",
)


def cors_middleware(origins: Collection[str]) -> Middleware:
    return Middleware(
        CORSMiddleware,
        allow_origins=origins,
        allow_methods=("GET", "POST"),
        allow_headers=ALLOWED_HEADERS,
        allow_credentials=True,
    )
