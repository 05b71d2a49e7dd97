"""Waiting in tests: for a condition, never for a fixed time to let things settle.

`wait_until` polls a condition; `until_notified` waits until a `notifications` subscription is
live. The pauses that are themselves the behaviour under test (a provider that stalls, a client
that dribbles bytes, a follower that reads slowly) are spelled `stall`, and the one window a
test watches a rate over is spelled `observe_for`: every other wait in the suite is one of these.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, overload

import jwt

T = TypeVar("T")

# Generous: a condition that holds is seen within a poll interval; the timeout only bounds a failure.
TIMEOUT_SECONDS = 20.0
POLL_SECONDS = 0.02


@overload
async def wait_until(
    condition: Callable[[], Awaitable[T | None]], *, timeout: float = ..., interval: float = ..., what: str | None = ...
) -> T: ...
@overload
async def wait_until(
    condition: Callable[[], T | None], *, timeout: float = ..., interval: float = ..., what: str | None = ...
) -> T: ...
async def wait_until(
    condition: Callable[[], Any],
    *,
    timeout: float = TIMEOUT_SECONDS,
    interval: float = POLL_SECONDS,
    what: str | None = None,
) -> Any:
    """Calls `condition` (a function or a coroutine function) until it returns something true,
    and returns that; fails naming `what` (or the condition) if it is still false after `timeout`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = condition()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        if loop.time() >= deadline:
            raise AssertionError(f"waited {timeout} s for {what or getattr(condition, '__name__', 'a condition')}")
        await asyncio.sleep(interval)


def token_expired(token: str) -> bool:
    """A condition: the JWT `token` is past its expiry (as jwt checks it: exp <= now)."""
    return time.time() >= jwt.decode(token, options={"verify_signature": False})["exp"]


async def stall(seconds: float) -> None:
    """A pause that is the behaviour under test (a slow provider, client or follower)."""
    await asyncio.sleep(seconds)


async def observe_for(seconds: float) -> None:
    """The window over which a test counts what happens (a rate, such as reads per interval)."""
    await asyncio.sleep(seconds)


# How long one probe's notification is waited for before the next probe is made.
PROBE_SECONDS = 0.1


async def until_notified(
    probe: Callable[[str], Awaitable[object]],
    next_name: Callable[[], Awaitable[str]],
    *,
    timeout: float = TIMEOUT_SECONDS,
) -> None:
    """Waits until a `notifications` subscription is live.

    `probe(name)` does something that notifies the subscriber with `name` (creates a project so
    named); `next_name()` reads the subscriber's next notification's name. Probes are made until
    one is notified; the notifications of later probes are then read too, so the next one the
    caller reads is the first of what it does afterwards."""
    reading: asyncio.Future[str] | None = None
    number = 0
    try:
        async with asyncio.timeout(timeout):
            while True:
                number += 1
                await probe(f"probe {number}")
                reading = reading or asyncio.ensure_future(next_name())
                # Not cancelled when a probe goes unanswered: a read cut short could lose a message.
                done, _ = await asyncio.wait({reading}, timeout=PROBE_SECONDS)
                if done:
                    break
            name = reading.result()
            while name != f"probe {number}":
                name = await next_name()
    finally:
        if reading is not None and not reading.done():
            reading.cancel()
