"""What every resolver receives as `info.context`.

An HTTP request is one operation. A websocket connection carries many operations over one
connection context; `for_operation` gives each its own database session and DataLoaders.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import HTTPConnection

from db.loaders import Loaders
from services.accounts import auth
from services.accounts.actors import Actor
from services.backend import Backend
from services.errors import DomainError, Unauthenticated
from services.events import bus as event_bus
from services.platform.database_unavailable import database_unavailable


@dataclass
class Context:
    backend: Backend
    request: HTTPConnection
    access_token: str | None
    client_address: str
    connection_params: dict[str, Any] | None = None
    # Set once the token has been checked: per operation, and on a websocket's connection
    # context when the connection opened.
    authenticated_actor: Actor | None = None
    # A refused token is refused once: resolvers asking again get the same answer, no query.
    _authentication_error: DomainError | None = field(default=None, repr=False)
    _session: AsyncSession | None = field(default=None, repr=False)
    _loaders: Loaders | None = field(default=None, repr=False)

    @property
    def session(self) -> AsyncSession:
        """The operation's database session, opened on first use."""
        if self._session is None:
            self._session = self.backend.session_factory()
        return self._session

    @property
    def loaders(self) -> Loaders:
        if self._loaders is None:
            self._loaders = Loaders(self.session)
        return self._loaders

    async def actor(self) -> Actor | None:
        if self._authentication_error is not None:
            raise self._authentication_error
        if self.authenticated_actor is None and self.access_token:
            try:
                self.authenticated_actor = await self._authenticate(self.access_token)
            except DomainError as error:
                self._authentication_error = error
                raise
            except Exception as error:
                # The database could not check the session: UNAVAILABLE wherever authentication
                # happens (before an operation, at a websocket's connection_init), not an
                # internal error; and not kept, the next try may find it back.
                if (down := database_unavailable(error)) is None:
                    raise
                raise down from error
        return self.authenticated_actor

    async def recheck_session(self, *, fresh_within: float) -> None:
        """Raise when the connection's token has expired or its session has ended, as known
        `fresh_within` seconds ago at most."""
        if self.authenticated_actor is not None and self.access_token:
            await self._authenticate(self.access_token, fresh_within=fresh_within)

    async def _authenticate(self, access_token: str, *, fresh_within: float | None = None) -> Actor:
        # A session of its own, opened only when the session's state is not known already: a
        # subscription must not hold the operation's open.
        return await auth.authenticate(
            self.backend.session_factory, self.backend.auth, access_token, fresh_within=fresh_within
        )

    async def require_actor(self) -> Actor:
        actor = await self.actor()
        if actor is None:
            raise Unauthenticated("sign in first: send 'Authorization: Bearer <access token>'")
        return actor

    def for_operation(self) -> Context:
        # Each operation checks the token again (a websocket outlives logouts and expiries); the
        # check is cheap, see services.accounts.sessions.
        return replace(
            self, authenticated_actor=None, _authentication_error=None, _session=None, _loaders=None
        )

    async def finish(self, *, succeeded: bool) -> None:
        """The one place where an operation's changes are committed, or rolled back."""
        if self._session is None:
            return
        try:
            if succeeded:
                await event_bus.commit(self._session, self.backend.bus)
            else:
                await event_bus.rollback(self._session)
        finally:
            await self._session.close()
            self._session = None
            self._loaders = None


Info = strawberry.Info[Context, None]
