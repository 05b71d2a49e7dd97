"""The one retry policy for provider calls, and how a failed attempt is described.

The SDKs' own retries are turned off (max_retries=0) so that this is the only policy: clients
raise `AttemptFailed` from an attempt, and the helpers here either try again (429, 5xx,
connection errors, timeouts; after a backoff with full jitter, or after the server's
Retry-After) or turn it into a `ProviderError`. A stream is retried only until its first
piece of text has been yielded: after that the caller has seen output, so a failure is final.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from contextlib import aclosing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

import httpx2

from services.execution.providers.base import ProviderError

T = TypeVar("T")

Sleep = Callable[[float], Awaitable[None]]

RETRYABLE_STATUSES = frozenset({408, 409, 429})
DETAIL_LIMIT = 200


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 4
    base_delay: float = 0.5  # seconds before the first retry, doubled for each one after
    max_delay: float = 20.0  # cap on any one wait, the server's Retry-After included
    # Per attempt: to connect, and for each read; a stream may last longer as long as its
    # pieces keep arriving.
    timeout: float = 60.0
    sleep: Sleep = field(default=asyncio.sleep, repr=False, compare=False)

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """The wait after failed attempt number `attempt` (1-based)."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_delay)
        ceiling = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return random.uniform(0.0, ceiling)


class AttemptFailed(Exception):
    """One attempt at a call failed; the message is safe to show a user."""

    def __init__(self, message: str, *, retryable: bool, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.retry_after = retry_after


async def call_with_retries(
    provider_id: str, policy: RetryPolicy, attempt: Callable[[], Awaitable[T]]
) -> T:
    for number in range(1, policy.max_attempts + 1):
        try:
            return await attempt()
        except AttemptFailed as failure:
            if not failure.retryable or number == policy.max_attempts:
                raise _final(provider_id, failure, number) from failure
            await policy.sleep(policy.delay(number, failure.retry_after))
    raise AssertionError("max_attempts must be at least 1")


async def stream_with_retries(
    provider_id: str, policy: RetryPolicy, open_stream: Callable[[], AsyncGenerator[str, None]]
) -> AsyncGenerator[str, None]:
    """Yield the pieces of the first attempt that succeeds; `open_stream` starts an attempt."""
    for number in range(1, policy.max_attempts + 1):
        started = False
        try:
            # aclosing: an abandoned or cancelled stream closes its HTTP response at once.
            async with aclosing(open_stream()) as pieces:
                async for piece in pieces:
                    started = True
                    yield piece
            return
        except AttemptFailed as failure:
            if started:
                raise ProviderError(provider_id, f"{failure.message} mid-stream") from failure
            if not failure.retryable or number == policy.max_attempts:
                raise _final(provider_id, failure, number) from failure
            await policy.sleep(policy.delay(number, failure.retry_after))
    raise AssertionError("max_attempts must be at least 1")


def _final(provider_id: str, failure: AttemptFailed, attempts: int) -> ProviderError:
    suffix = f" (after {attempts} attempts)" if failure.retryable and attempts > 1 else ""
    return ProviderError(provider_id, failure.message + suffix)


def status_failure(
    status: int, headers: Mapping[str, str], body: object, *, secret: str
) -> AttemptFailed:
    """An HTTP error status as an attempt failure: retryable for 408/409/429 and 5xx."""
    if status in (401, 403):
        return AttemptFailed(f"rejected the API key (HTTP {status})", retryable=False)
    if status == 429:
        return AttemptFailed(
            "rate limited (HTTP 429)", retryable=True, retry_after=retry_after(headers)
        )
    if status >= 500 or status in RETRYABLE_STATUSES:
        return AttemptFailed(
            f"server error (HTTP {status})", retryable=True, retry_after=retry_after(headers)
        )
    detail = error_detail(body, secret=secret)
    reason = f"request failed (HTTP {status})" + (f": {detail}" if detail else "")
    return AttemptFailed(reason, retryable=False)


def transport_failure(error: httpx2.TransportError, *, timeout: float) -> AttemptFailed:
    """A network-level failure, as raised by httpx2 (directly or under an SDK's own error)."""
    if isinstance(error, httpx2.TimeoutException):
        return timed_out(timeout)
    return connection_failed()


def timed_out(timeout: float) -> AttemptFailed:
    return AttemptFailed(f"no response within {timeout:g}s", retryable=True)


def connection_failed() -> AttemptFailed:
    return AttemptFailed("connection failed", retryable=True)


def malformed() -> AttemptFailed:
    return AttemptFailed("sent a response that could not be read", retryable=False)


def retry_after(headers: Mapping[str, str]) -> float | None:
    """The server's requested wait in seconds: Retry-After as seconds or an HTTP date."""
    milliseconds = _number(headers.get("retry-after-ms"))
    if milliseconds is not None:
        return milliseconds / 1000
    raw = headers.get("retry-after")
    seconds = _number(raw)
    if seconds is not None or raw is None:
        return seconds
    try:
        moment = parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())


def _number(raw: str | None) -> float | None:
    try:
        return float(raw) if raw is not None else None
    except ValueError:
        return None


def error_detail(body: object, *, secret: str) -> str:
    """The provider's own error message, shortened and with the API key blanked out."""
    message: Any = body
    if isinstance(message, Mapping):
        message = message.get("error", message)
    if isinstance(message, Mapping):
        message = message.get("message")
    if not isinstance(message, str):
        return ""
    text: str = message.replace(secret, "***") if secret else message
    return text[:DETAIL_LIMIT]
