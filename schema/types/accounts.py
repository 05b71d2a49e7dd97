from __future__ import annotations

from datetime import datetime

import strawberry

from db.models import BackofficeUser as BackofficeUserModel
from db.models import User as UserModel
from services.accounts.auth import AuthResult


@strawberry.interface(description="Anyone who can sign in: an editor user or a backoffice user.")
class Account:
    id: strawberry.ID
    email: str
    username: str
    created_at: datetime


@strawberry.type
class User(Account):
    @classmethod
    def from_model(cls, user: UserModel) -> User:
        return cls(
            id=strawberry.ID(str(user.id)),
            email=user.email,
            username=user.username,
            created_at=user.created_at,
        )


@strawberry.type(description="An administrator of the catalog and of all users.")
class BackofficeUser(Account):
    @classmethod
    def from_model(cls, user: BackofficeUserModel) -> BackofficeUser:
        return cls(
            id=strawberry.ID(str(user.id)),
            email=user.email,
            username=user.username,
            created_at=user.created_at,
        )


@strawberry.type
class AuthPayload:
    access_token: str
    refresh_token: str
    expires_in: int = strawberry.field(description="Seconds until the access token expires.")
    user: Account

    @classmethod
    def from_result(cls, result: AuthResult) -> AuthPayload:
        account = result.account
        user: Account = (
            User.from_model(account)
            if isinstance(account, UserModel)
            else BackofficeUser.from_model(account)
        )
        return cls(
            access_token=result.access_token,
            refresh_token=result.refresh_token,
            expires_in=result.expires_in,
            user=user,
        )
