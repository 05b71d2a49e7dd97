"""Accounts: editor users, backoffice (admin) users and their refresh tokens."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, utc_now


class AccountColumns:
    """Editor users and backoffice users sign in the same way, from separate tables."""

    id: Mapped[int] = mapped_column(primary_key=True)
    # Stored lower-cased; usernames keep their case but are unique regardless of it.
    email: Mapped[str] = mapped_column(String(320), unique=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utc_now)


def _username_ignoring_case(table: str) -> Index:
    """Two signups racing with "Alice" and "alice" both pass the service's check; this index
    makes the database refuse the second."""
    return Index(f"uq_{table}_username_lower", text("lower(username)"), unique=True, info={"guards": ("username",)})


class User(AccountColumns, Base):
    __tablename__ = "users"
    __table_args__ = (_username_ignoring_case("users"),)


class BackofficeUser(AccountColumns, Base):
    __tablename__ = "backoffice_users"
    __table_args__ = (_username_ignoring_case("backoffice_users"),)


class RefreshToken(Base):
    """One issued refresh token. `family_id` is the login session it belongs to."""

    __tablename__ = "refresh_tokens"
    __table_args__ = (
        CheckConstraint(
            "(user_id IS NULL) <> (backoffice_user_id IS NULL)", name="exactly_one_subject"
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    family_id: Mapped[uuid.UUID] = mapped_column(index=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    backoffice_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("backoffice_users.id", ondelete="CASCADE"), index=True
    )
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
