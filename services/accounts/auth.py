"""Accounts and sessions: signup, login, rotating refresh tokens, logout, and token -> Actor."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from db.models import BackofficeUser, RefreshToken, User
from db.repositories.users import AccountRepository, RefreshTokenRepository
from services.accounts import passwords
from services.accounts.actors import Actor
from services.accounts.rate_limits import LoginRateLimiter, SignupRateLimiter
from services.accounts.sessions import DecodedAccessTokens, SessionKey, SessionState, SessionStates
from services.accounts.tokens import AccountKind, TokenClaims, TokenCodec
from services.errors import AccountDeleted, Forbidden, SessionEnded, SessionRevoked, Unauthenticated
from services.events.bus import record_event
from services.platform.input_checks import clean_email, clean_username, normalize_identifier
from services.platform.write_conflicts import taken

ACCOUNT_MODELS: dict[AccountKind, type[User] | type[BackofficeUser]] = {
    "user": User,
    "backoffice": BackofficeUser,
}


@dataclass(frozen=True)
class AuthConfig:
    tokens: TokenCodec
    bcrypt_rounds: int
    login_limiter: LoginRateLimiter
    signup_limiter: SignupRateLimiter
    sessions: SessionStates
    # Built by backend.open_backend with the same age as `sessions`; None: decode every time.
    access_tokens: DecodedAccessTokens | None = None

    def decode_access_token(self, token: str) -> TokenClaims:
        if self.access_tokens is None:
            return self.tokens.decode(token, "access")
        return self.access_tokens.decode(token)


@dataclass(frozen=True)
class AuthResult:
    access_token: str
    refresh_token: str
    expires_in: int
    account: User | BackofficeUser


def require_user(actor: Actor | None) -> Actor:
    """For operations that act as an editor user (creating projects, flows, ...)."""
    if actor is None:
        raise Unauthenticated("sign in first")
    if actor.is_backoffice:
        raise Forbidden("this operation needs an editor user account, not a backoffice one")
    return actor


def require_backoffice(actor: Actor | None) -> Actor:
    if actor is None:
        raise Unauthenticated("sign in as a backoffice user first")
    if not actor.is_backoffice:
        raise Forbidden("only backoffice users may do this")
    return actor


async def create_account(
    session: AsyncSession,
    config: AuthConfig,
    kind: AccountKind,
    *,
    email: str,
    username: str,
    password: str,
) -> User | BackofficeUser:
    email = clean_email(email)
    username = clean_username(username)
    passwords.check_password_policy(password, identities=(email.split("@")[0], username))
    repository = AccountRepository(session, ACCOUNT_MODELS[kind])
    email_taken, username_taken = await repository.taken(email, username)
    if email_taken:
        raise taken("email")
    if username_taken:
        raise taken("username")
    password_hash = await passwords.hash_password(password, rounds=config.bcrypt_rounds)
    account = await repository.add(
        ACCOUNT_MODELS[kind](email=email, username=username, password_hash=password_hash)
    )
    record_event(
        session,
        f"{'user' if kind == 'user' else 'backoffice_user'}.created",
        user_id=account.id if kind == "user" else None,
        payload={"accountId": account.id, "username": account.username},
    )
    return account


async def signup(
    session: AsyncSession,
    config: AuthConfig,
    *,
    email: str,
    username: str,
    password: str,
    address: str,
) -> AuthResult:
    config.signup_limiter.check(address)
    user = await create_account(
        session, config, "user", email=email, username=username, password=password
    )
    config.signup_limiter.record(address)
    return await _start_session(session, config, "user", user)


async def login(
    session: AsyncSession,
    config: AuthConfig,
    kind: AccountKind,
    *,
    identifier: str,
    password: str,
    address: str,
) -> AuthResult:
    # The limiter counts what the lookup finds: padding or re-casing is the same identifier.
    identifier = normalize_identifier(identifier)
    limiter_key = f"{kind}:{identifier}"
    config.login_limiter.check(limiter_key, address)
    account = await AccountRepository(session, ACCOUNT_MODELS[kind]).find_by_identifier(identifier)
    if not await passwords.verify_password(password, account.password_hash if account else None):
        config.login_limiter.record_failure(limiter_key, address)
        raise Unauthenticated("wrong email, username or password")
    assert account is not None
    return await _start_session(session, config, kind, account)


async def refresh(session: AsyncSession, config: AuthConfig, refresh_token: str) -> AuthResult:
    claims = config.tokens.decode(refresh_token, "refresh")
    tokens = RefreshTokenRepository(session)
    stored = await tokens.get_by_id(claims.token_id)
    now = datetime.now(UTC)
    if stored is None or stored.revoked_at is not None:
        raise Unauthenticated("refresh token has been revoked")
    if not await tokens.claim(claims.token_id, now):
        # A used token presented again means it leaked: end the whole session.
        await tokens.revoke_session(claims.session_id, now)
        config.sessions.forget_session(claims.session_id)
        raise SessionRevoked("refresh token has already been used; the session is now closed")
    account = await AccountRepository(session, ACCOUNT_MODELS[claims.account_kind]).get(
        claims.account_id
    )
    if account is None:
        raise Unauthenticated("the account no longer exists")
    return await _issue_tokens(session, config, claims.account_kind, account, claims.session_id)


async def logout(session: AsyncSession, config: AuthConfig, refresh_token: str) -> bool:
    claims = config.tokens.decode(refresh_token, "refresh")
    await RefreshTokenRepository(session).revoke_session(claims.session_id, datetime.now(UTC))
    config.sessions.forget_session(claims.session_id)
    return True


async def authenticate(
    open_session: Callable[[], AsyncSession],
    config: AuthConfig,
    access_token: str,
    *,
    fresh_within: float | None = None,
) -> Actor:
    """The actor behind an access token, if the token is valid and its session still open.

    The session's state is read from the database at most every few seconds (or, given
    `fresh_within`, when the state known is older than that), in a session of its own opened
    only then."""
    claims = config.decode_access_token(access_token)
    key = SessionKey(claims.account_kind, claims.account_id, claims.session_id)
    state = config.sessions.get(key, max_age=fresh_within)
    if state is None:

        async def read() -> SessionState:
            async with open_session() as session:
                return await _session_state(session, claims)

        state = await config.sessions.read(key, read)
    if state is SessionState.ACCOUNT_DELETED:
        raise AccountDeleted("the account no longer exists")
    if state is SessionState.REVOKED:
        raise SessionEnded("the session has ended; sign in again")
    return Actor(kind=claims.account_kind, id=claims.account_id, session_id=claims.session_id)


async def _session_state(session: AsyncSession, claims: TokenClaims) -> SessionState:
    owned, revoked = await RefreshTokenRepository(session).session_state(
        ACCOUNT_MODELS[claims.account_kind], claims.account_id, claims.session_id
    )
    if not owned:
        return SessionState.ACCOUNT_DELETED
    return SessionState.REVOKED if revoked else SessionState.OPEN


async def _start_session(
    session: AsyncSession, config: AuthConfig, kind: AccountKind, account: User | BackofficeUser
) -> AuthResult:
    return await _issue_tokens(session, config, kind, account, uuid.uuid4())


async def _issue_tokens(
    session: AsyncSession,
    config: AuthConfig,
    kind: AccountKind,
    account: User | BackofficeUser,
    session_id: uuid.UUID,
) -> AuthResult:
    access_token, access_claims = config.tokens.issue(
        "access", account_kind=kind, account_id=account.id, session_id=session_id
    )
    refresh_token, refresh_claims = config.tokens.issue(
        "refresh", account_kind=kind, account_id=account.id, session_id=session_id
    )
    await RefreshTokenRepository(session).add(
        RefreshToken(
            id=refresh_claims.token_id,
            family_id=session_id,
            user_id=account.id if kind == "user" else None,
            backoffice_user_id=account.id if kind == "backoffice" else None,
            expires_at=refresh_claims.expires_at,
        )
    )
    return AuthResult(
        access_token=access_token,
        refresh_token=refresh_token,
        expires_in=int(config.tokens.access_lifetime.total_seconds()),
        account=account,
    )
