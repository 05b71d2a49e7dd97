"""The decoded access tokens kept for a few seconds (services.accounts.sessions.DecodedAccessTokens): the
text is the key, expiry is checked on every use, and only tokens that decoded are kept."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from services.accounts.sessions import DecodedAccessTokens
from services.accounts.tokens import ACCESS_TOKEN_LIFETIME, TokenClaims, TokenCodec, TokenType
from services.errors import InvalidToken, TokenExpired
from tests.waiting import token_expired, wait_until


class CountingCodec(TokenCodec):
    decodes = 0

    def decode(self, token: str, expected_type: TokenType) -> TokenClaims:
        type(self).decodes += 1
        return super().decode(token, expected_type)


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def codec() -> CountingCodec:
    CountingCodec.decodes = 0
    return CountingCodec("s" * 32)


@pytest.fixture
def clock() -> Clock:
    return Clock()


def cache(codec: TokenCodec, clock: Clock, max_entries: int = 100) -> DecodedAccessTokens:
    # The age is on the fake clock; expiry on the real one, as jwt checks it.
    return DecodedAccessTokens(codec, max_age_seconds=5, clock=clock, max_entries=max_entries)


def token(codec: TokenCodec, account_id: int, *, expires_in: timedelta = ACCESS_TOKEN_LIFETIME) -> str:
    issued = datetime.now(UTC) - ACCESS_TOKEN_LIFETIME + expires_in
    text, _ = codec.issue("access", account_kind="user", account_id=account_id, session_id=uuid.uuid4(), now=issued)
    return text


def test_a_token_is_decoded_once_within_the_age(codec: CountingCodec, clock: Clock) -> None:
    tokens = cache(codec, clock)
    alice = token(codec, 1)
    assert tokens.decode(alice).account_id == 1
    clock.now = 4.9
    assert tokens.decode(alice).account_id == 1
    assert CountingCodec.decodes == 1
    clock.now = 5.0  # as old as max_age_seconds: decoded again
    assert tokens.decode(alice).account_id == 1
    assert CountingCodec.decodes == 2


def test_each_token_text_gets_its_own_claims(codec: CountingCodec, clock: Clock) -> None:
    tokens = cache(codec, clock)
    alice, bob = token(codec, 1), token(codec, 2)
    for _ in range(3):
        assert tokens.decode(alice).account_id == 1
        assert tokens.decode(bob).account_id == 2
    assert CountingCodec.decodes == 2


async def test_an_expired_token_is_refused_though_it_was_decoded_before(codec: CountingCodec, clock: Clock) -> None:
    tokens = cache(codec, clock)
    alice = token(codec, 1, expires_in=timedelta(seconds=1))
    assert tokens.decode(alice).account_id == 1
    # Past its expiry (the cache's age, on its own clock, has not moved).
    await wait_until(lambda: token_expired(alice), what="the token's expiry")
    with pytest.raises(TokenExpired):
        tokens.decode(alice)


def test_a_refused_token_is_not_kept(codec: CountingCodec, clock: Clock) -> None:
    tokens = cache(codec, clock)
    for _ in range(2):
        with pytest.raises(InvalidToken):
            tokens.decode("not-a-token")
    assert CountingCodec.decodes == 2


def test_the_cache_is_bounded(codec: CountingCodec, clock: Clock) -> None:
    tokens = cache(codec, clock, max_entries=3)
    texts = [token(codec, account_id) for account_id in range(5)]
    for text in texts:
        tokens.decode(text)
    CountingCodec.decodes = 0
    for text in texts[-3:]:
        tokens.decode(text)
    assert CountingCodec.decodes == 0  # the newest three are kept
    tokens.decode(texts[0])
    assert CountingCodec.decodes == 1  # the oldest was dropped
