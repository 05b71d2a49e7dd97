from __future__ import annotations

import uuid
from datetime import datetime
from typing import Generic, TypeVar

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import BackofficeUser, RefreshToken, User
from db.repositories.base import ModelRepository

Account = TypeVar("Account", bound=User | BackofficeUser)


class AccountRepository(ModelRepository[Account], Generic[Account]):
    """Users or backoffice users, by the model given."""

    async def get(self, account_id: int) -> Account | None:
        return await self.get_by_id(account_id)

    async def find_by_identifier(self, identifier: str) -> Account | None:
        """An email or a username, in any case; `identifier` comes trimmed and lower-cased."""
        statement = select(self.model).where(
            or_(self.model.email == identifier, func.lower(self.model.username) == identifier)
        )
        return (await self.session.scalars(statement)).first()

    async def taken(self, email: str, username: str) -> tuple[bool, bool]:
        """Whether the (lower-cased) email and the username, in any case, are in use."""
        statement = select(self.model.email, self.model.username).where(
            or_(self.model.email == email, func.lower(self.model.username) == username.lower())
        )
        rows = (await self.session.execute(statement)).all()
        return (
            any(row.email == email for row in rows),
            any(row.username.lower() == username.lower() for row in rows),
        )

    async def add(self, account: Account) -> Account:
        self.session.add(account)
        await self.session.flush()
        return account

    async def delete(self, account_id: int) -> None:
        await self.session.execute(delete(self.model).where(self.model.id == account_id))


class RefreshTokenRepository(ModelRepository[RefreshToken]):
    def __init__(self, session: AsyncSession) -> None:
        super().__init__(session, RefreshToken)

    async def claim(self, token_id: uuid.UUID, at: datetime) -> bool:
        """Mark an unused token used, atomically; False when it was used already."""
        result = await self.session.execute(
            update(RefreshToken)
            .where(RefreshToken.id == token_id, RefreshToken.used_at.is_(None))
            .values(used_at=at)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def revoke_session(self, session_id: uuid.UUID, at: datetime) -> None:
        await self.session.execute(
            update(RefreshToken)
            .where(RefreshToken.family_id == session_id, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=at)
        )

    async def session_state(
        self, model: type[User] | type[BackofficeUser], account_id: int, session_id: uuid.UUID
    ) -> tuple[bool, bool]:
        """(owned, revoked): whether the login session belongs to this account, and whether any
        of it has been revoked.

        Its tokens go with a deleted account, so a session that is not owned means the account
        is gone, and a later account that the database hands the same id does not inherit it."""
        subject = RefreshToken.user_id if model is User else RefreshToken.backoffice_user_id
        in_session = RefreshToken.family_id == session_id
        owned = select(RefreshToken.id).where(in_session, subject == account_id).exists()
        revoked = select(RefreshToken.id).where(in_session, RefreshToken.revoked_at.is_not(None)).exists()
        row = (await self.session.execute(select(owned, revoked))).one()
        return bool(row[0]), bool(row[1])
