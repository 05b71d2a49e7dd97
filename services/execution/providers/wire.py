"""What the provider clients share on the wire: connections kept for reuse, JSON bodies."""

from __future__ import annotations

import json

import httpx2
import orjson

# The SDKs' own cap on connections at once, kept when the provider allows fewer calls.
MAX_CONNECTIONS = 1000
# Seconds an idle connection is kept: under the 5 s after which uvicorn (which serves many
# self-hosted OpenAI-compatible models) closes it. A connection the server has just closed, taken
# from the pool before its close was read, fails the request (POST is not retried by aiohttp).
KEEPALIVE_SECONDS = 4.0


def pool_limits(concurrency: int) -> httpx2.Limits:
    """Connections kept open for reuse: as many as the calls the provider may have in flight.
    With fewer (the SDKs keep 100, httpx 20), a burst of more calls closes the surplus when it
    ends and opens new connections for the next one."""
    return httpx2.Limits(
        max_connections=max(concurrency, MAX_CONNECTIONS),
        max_keepalive_connections=concurrency,
        keepalive_expiry=KEEPALIVE_SECONDS,
    )


def json_body(payload: object) -> bytes:
    try:
        return orjson.dumps(payload)
    except TypeError:  # orjson refuses lone surrogates; json escapes them, as JSON allows
        return json.dumps(payload).encode()
