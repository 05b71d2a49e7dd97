from __future__ import annotations

from db.models import BackofficeUser as BackofficeUserModel
from schema.context import Info
from schema.inputs import LoginInput, SignupInput
from schema.types.accounts import AuthPayload, BackofficeUser
from services.accounts import auth
from services.accounts.tokens import AccountKind


async def signup(info: Info, input: SignupInput) -> AuthPayload:
    context = info.context
    result = await auth.signup(
        context.session,
        context.backend.auth,
        email=input.email,
        username=input.username,
        password=input.password,
        address=context.client_address,
    )
    return AuthPayload.from_result(result)


async def login(info: Info, input: LoginInput) -> AuthPayload:
    return await _login(info, input, "user")


async def backoffice_login(info: Info, input: LoginInput) -> AuthPayload:
    return await _login(info, input, "backoffice")


async def refresh_token(info: Info, refresh_token: str) -> AuthPayload:
    context = info.context
    result = await auth.refresh(context.session, context.backend.auth, refresh_token)
    return AuthPayload.from_result(result)


async def logout(info: Info, refresh_token: str) -> bool:
    return await auth.logout(info.context.session, info.context.backend.auth, refresh_token)


async def create_backoffice_user(info: Info, input: SignupInput) -> BackofficeUser:
    context = info.context
    auth.require_backoffice(await context.actor())
    account = await auth.create_account(
        context.session,
        context.backend.auth,
        "backoffice",
        email=input.email,
        username=input.username,
        password=input.password,
    )
    assert isinstance(account, BackofficeUserModel)
    return BackofficeUser.from_model(account)


async def _login(info: Info, input: LoginInput, kind: AccountKind) -> AuthPayload:
    context = info.context
    result = await auth.login(
        context.session,
        context.backend.auth,
        kind,
        identifier=input.identifier,
        password=input.password,
        address=context.client_address,
    )
    return AuthPayload.from_result(result)
