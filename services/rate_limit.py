"""Sliding-window limit on failed logins, per identifier and per client address (in process)."""

from __future__ import annotations

import time
from collections import defaultdict, deque
from collections.abc import Callable

from services.errors import RateLimited

# An address may try several accounts (a shared office), so it gets more room than one identifier.
ADDRESS_ALLOWANCE_FACTOR = 5


class LoginRateLimiter:
    def __init__(
        self,
        *,
        attempts: int,
        window_seconds: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._attempts = attempts
        self._window = window_seconds
        self._clock = clock
        self._failures: defaultdict[str, deque[float]] = defaultdict(deque)

    def check(self, identifier: str, address: str) -> None:
        """Raise RateLimited when either key has used up its failures in the window."""
        for key, allowance in self._keys(identifier, address):
            failures = self._recent(key)
            if len(failures) >= allowance:
                retry_after = int(failures[0] + self._window - self._clock()) + 1
                raise RateLimited(
                    "too many failed login attempts; try again later", retry_after_seconds=retry_after
                )

    def record_failure(self, identifier: str, address: str) -> None:
        now = self._clock()
        for key, _ in self._keys(identifier, address):
            self._failures[key].append(now)

    def _keys(self, identifier: str, address: str) -> tuple[tuple[str, int], ...]:
        return (
            (f"id:{identifier.strip().lower()}", self._attempts),
            (f"addr:{address}", self._attempts * ADDRESS_ALLOWANCE_FACTOR),
        )

    def _recent(self, key: str) -> deque[float]:
        failures = self._failures[key]
        horizon = self._clock() - self._window
        while failures and failures[0] <= horizon:
            failures.popleft()
        if not failures:
            del self._failures[key]
            return deque()
        return failures
