"""bcrypt password hashing (off the event loop) and the password policy."""

from __future__ import annotations

import asyncio

import bcrypt

from services.errors import BadInput

MIN_PASSWORD_LENGTH = 8
# bcrypt reads at most 72 bytes; a longer password would be silently truncated.
MAX_PASSWORD_BYTES = 72
# Compared against when the account does not exist, so both paths cost one bcrypt check.
_UNKNOWN_ACCOUNT_HASH = bcrypt.hashpw(b"no such account", bcrypt.gensalt(rounds=4))


def check_password_policy(password: str, *, identities: tuple[str, ...] = ()) -> None:
    field = "password"
    if len(password) < MIN_PASSWORD_LENGTH:
        raise BadInput(field, f"must be at least {MIN_PASSWORD_LENGTH} characters long")
    if len(password.encode()) > MAX_PASSWORD_BYTES:
        raise BadInput(field, f"must be at most {MAX_PASSWORD_BYTES} bytes long")
    if password.isalpha() or password.isdigit():
        raise BadInput(field, "must mix letters with digits or symbols")
    lowered = password.lower()
    if any(identity and identity.lower() in lowered for identity in identities):
        raise BadInput(field, "must not contain your email or username")


async def hash_password(password: str, *, rounds: int) -> str:
    salt = bcrypt.gensalt(rounds=rounds)
    hashed = await asyncio.to_thread(bcrypt.hashpw, password.encode(), salt)
    return hashed.decode()


async def verify_password(password: str, password_hash: str | None) -> bool:
    encoded = password.encode()
    if len(encoded) > MAX_PASSWORD_BYTES:
        return False
    stored = password_hash.encode() if password_hash else _UNKNOWN_ACCOUNT_HASH
    matches = await asyncio.to_thread(bcrypt.checkpw, encoded, stored)
    return matches and password_hash is not None
