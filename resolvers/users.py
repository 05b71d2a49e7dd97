from __future__ import annotations

import strawberry

from schema.context import Info
from schema.types.accounts import User
from services.accounts import auth, users


async def me(info: Info) -> User:
    actor = auth.require_user(await info.context.actor())
    return User.from_model(await users.get_user(info.context.session, actor, str(actor.id)))


async def user(info: Info, id: strawberry.ID) -> User:
    actor = await info.context.require_actor()
    return User.from_model(await users.get_user(info.context.session, actor, id))


async def delete_user(info: Info, id: strawberry.ID) -> bool:
    actor = await info.context.require_actor()
    return await users.delete_user(info.context.session, actor, id, info.context.backend.auth.sessions)
