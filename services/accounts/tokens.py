"""JWT access and refresh tokens (HS256). The two kinds, and user vs backoffice, never mix."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

import jwt

from services.errors import InvalidToken, TokenExpired

AccountKind = Literal["user", "backoffice"]
TokenType = Literal["access", "refresh"]

ACCESS_TOKEN_LIFETIME = timedelta(minutes=30)
REFRESH_TOKEN_LIFETIME = timedelta(days=7)
ALGORITHM = "HS256"
ISSUER = "flow-backend"


@dataclass(frozen=True)
class TokenClaims:
    token_type: TokenType
    account_kind: AccountKind
    account_id: int
    # The login session: every token issued by one login and its refreshes shares it.
    session_id: uuid.UUID
    token_id: uuid.UUID
    expires_at: datetime


@dataclass(frozen=True)
class TokenCodec:
    secret_key: str
    access_lifetime: timedelta = ACCESS_TOKEN_LIFETIME
    refresh_lifetime: timedelta = REFRESH_TOKEN_LIFETIME

    def issue(
        self,
        token_type: TokenType,
        *,
        account_kind: AccountKind,
        account_id: int,
        session_id: uuid.UUID,
        now: datetime | None = None,
    ) -> tuple[str, TokenClaims]:
        issued_at = now or datetime.now(UTC)
        lifetime = self.access_lifetime if token_type == "access" else self.refresh_lifetime
        claims = TokenClaims(
            token_type=token_type,
            account_kind=account_kind,
            account_id=account_id,
            session_id=session_id,
            token_id=uuid.uuid4(),
            expires_at=issued_at + lifetime,
        )
        payload = {
            "iss": ISSUER,
            "sub": str(account_id),
            "typ": token_type,
            "kind": account_kind,
            "sid": str(session_id),
            "jti": str(claims.token_id),
            "iat": issued_at,
            "exp": claims.expires_at,
        }
        return jwt.encode(payload, self.secret_key, algorithm=ALGORITHM), claims

    def decode(self, token: str, expected_type: TokenType) -> TokenClaims:
        try:
            payload = jwt.decode(
                token,
                self.secret_key,
                algorithms=[ALGORITHM],
                issuer=ISSUER,
                options={"require": ["exp", "iat", "sub", "typ", "kind", "sid", "jti"]},
            )
        except jwt.ExpiredSignatureError:
            raise TokenExpired(f"{expected_type} token has expired") from None
        except jwt.InvalidTokenError:
            raise InvalidToken(f"invalid {expected_type} token") from None
        if payload["typ"] != expected_type:
            raise InvalidToken(f"a {payload['typ']} token cannot be used as a {expected_type} token")
        if payload["kind"] not in ("user", "backoffice"):
            raise InvalidToken(f"invalid {expected_type} token")
        try:
            return TokenClaims(
                token_type=expected_type,
                account_kind=payload["kind"],
                account_id=int(payload["sub"]),
                session_id=uuid.UUID(payload["sid"]),
                token_id=uuid.UUID(payload["jti"]),
                expires_at=datetime.fromtimestamp(payload["exp"], UTC),
            )
        except (TypeError, ValueError):
            raise InvalidToken(f"invalid {expected_type} token") from None
