"""What is known of login sessions, remembered for a few seconds.

Every request and every websocket operation checks that its token's session is still open.
Reading that from the database each time would cost a query per request, so the answer is kept
for `max_age_seconds`: a session revoked by another process is refused within that time, and at
once in the process that revoked it (which forgets its entries).
"""

from __future__ import annotations

import asyncio
import enum
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from services.accounts.tokens import AccountKind, TokenClaims, TokenCodec

# Enough for every access token in use within a few seconds on one process; the oldest go first.
MAX_REMEMBERED_TOKENS = 10_000

# Enough for every session active within a few seconds on one process; the oldest go first.
MAX_REMEMBERED_SESSIONS = 10_000


class SessionState(enum.Enum):
    OPEN = "open"
    REVOKED = "revoked"
    ACCOUNT_DELETED = "account deleted"


@dataclass(frozen=True)
class SessionKey:
    account_kind: AccountKind
    account_id: int
    session_id: uuid.UUID


class SessionStates:
    def __init__(
        self,
        *,
        max_age_seconds: float,
        max_entries: int = MAX_REMEMBERED_SESSIONS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._max_age = max_age_seconds
        self._max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[SessionKey, tuple[SessionState, float]] = OrderedDict()
        self._reading: dict[SessionKey, asyncio.Future[SessionState]] = {}

    def get(self, key: SessionKey, *, max_age: float | None = None) -> SessionState | None:
        """The state read less than `max_age` (by default `max_age_seconds`) ago, if any."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        state, read_at = entry
        age = self._clock() - read_at
        if age >= self._max_age:
            del self._entries[key]
            return None
        return state if max_age is None or age < max_age else None

    async def read(self, key: SessionKey, read: Callable[[], Awaitable[SessionState]]) -> SessionState:
        """The state as `read` finds it now, remembered. Concurrent reads of one session share
        one: the websockets of a login session check it at the same moments."""
        pending = self._reading.get(key)
        if pending is None:
            pending = asyncio.ensure_future(read())
            self._reading[key] = pending
            pending.add_done_callback(lambda done: self._remember(key, done))
        # Shielded: one reader giving up (its socket closed) does not cancel the others' read.
        return await asyncio.shield(pending)

    def _remember(self, key: SessionKey, done: asyncio.Future[SessionState]) -> None:
        del self._reading[key]
        if not done.cancelled() and done.exception() is None:
            self.put(key, done.result())

    def put(self, key: SessionKey, state: SessionState) -> None:
        self._entries[key] = (state, self._clock())
        self._entries.move_to_end(key)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)

    def forget_session(self, session_id: uuid.UUID) -> None:
        for key in [key for key in self._entries if key.session_id == session_id]:
            del self._entries[key]

    def forget_account(self, account_kind: AccountKind, account_id: int) -> None:
        for key in [
            key for key in self._entries if (key.account_kind, key.account_id) == (account_kind, account_id)
        ]:
            del self._entries[key]


class DecodedAccessTokens:
    """Access tokens decoded less than `max_age_seconds` ago, by their whole text.

    Decoding (base64, JSON, an HMAC, the claims) is a fifth of a small authenticated request's
    cost, and a client sends the same token with every request. What a token says never
    changes: the text is the key, and a text not decoded here (another user's token, a forged
    one, a refused one) is decoded in full. Expiry is checked on every use, so an expired token
    is refused at once; whether its session is still open is SessionStates' question, asked on
    every use too, so a logout takes effect as before. Only tokens that decoded are kept: a
    client sending garbage cannot fill the cache.
    """

    def __init__(
        self,
        codec: TokenCodec,
        *,
        max_age_seconds: float,
        max_entries: int = MAX_REMEMBERED_TOKENS,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._codec = codec
        self._max_age = max_age_seconds
        self._max_entries = max_entries
        self._clock = clock
        self._wall_clock = wall_clock
        # token -> (claims, when decoded, expiry as a Unix time)
        self._entries: OrderedDict[str, tuple[TokenClaims, float, float]] = OrderedDict()

    def decode(self, token: str) -> TokenClaims:
        entry = self._entries.get(token)
        if entry is not None:
            claims, decoded_at, expires = entry
            if self._clock() - decoded_at < self._max_age and self._wall_clock() < expires:
                return claims
            del self._entries[token]
        # Raises for an expired or invalid token, as it always did.
        claims = self._codec.decode(token, "access")
        self._entries[token] = (claims, self._clock(), claims.expires_at.timestamp())
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)
        return claims
