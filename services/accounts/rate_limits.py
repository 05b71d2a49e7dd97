"""Sliding-window limits, in process: failed logins per identifier and per client address, and
sign-ups per address."""

from __future__ import annotations

import time
from collections import defaultdict, deque
from collections.abc import Callable

from services.errors import RateLimited

# An address may try several accounts (a shared office), so it gets more room than one identifier.
ADDRESS_ALLOWANCE_FACTOR = 5
SIGNUP_WINDOW_SECONDS = 3600


class SlidingWindow:
    """At most `allowance` recorded hits per key within the last `window_seconds`."""

    def __init__(self, *, window_seconds: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._window = window_seconds
        self._clock = clock
        self._hits: defaultdict[str, deque[float]] = defaultdict(deque)

    def check(self, key: str, allowance: int, message: str) -> None:
        """Raise RateLimited when `key` has used up its allowance."""
        hits = self._recent(key)
        if len(hits) >= allowance:
            retry_after = int(hits[0] + self._window - self._clock()) + 1
            raise RateLimited(message, retry_after_seconds=retry_after)

    def record(self, key: str) -> None:
        self._hits[key].append(self._clock())

    def _recent(self, key: str) -> deque[float]:
        hits = self._hits.get(key)
        if hits is None:
            return deque()
        horizon = self._clock() - self._window
        while hits and hits[0] <= horizon:
            hits.popleft()
        if not hits:
            # Keys come from clients: forget idle ones so memory does not grow with them.
            del self._hits[key]
        return hits


class LoginRateLimiter:
    """Failed logins per identifier (given already normalized, as the lookup sees it) and per
    client address."""

    def __init__(
        self, *, attempts: int, window_seconds: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._attempts = attempts
        self._failures = SlidingWindow(window_seconds=window_seconds, clock=clock)

    def check(self, identifier: str, address: str) -> None:
        for key, allowance in self._keys(identifier, address):
            self._failures.check(key, allowance, "too many failed login attempts; try again later")

    def record_failure(self, identifier: str, address: str) -> None:
        for key, _ in self._keys(identifier, address):
            self._failures.record(key)

    def _keys(self, identifier: str, address: str) -> tuple[tuple[str, int], ...]:
        return (
            (f"id:{identifier}", self._attempts),
            (f"addr:{address}", self._attempts * ADDRESS_ALLOWANCE_FACTOR),
        )


class SignupRateLimiter:
    """New accounts per client address per hour."""

    def __init__(self, *, per_hour: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._per_hour = per_hour
        self._signups = SlidingWindow(window_seconds=SIGNUP_WINDOW_SECONDS, clock=clock)

    def check(self, address: str) -> None:
        self._signups.check(address, self._per_hour, "too many sign-ups from this address; try again later")

    def record(self, address: str) -> None:
        self._signups.record(address)
