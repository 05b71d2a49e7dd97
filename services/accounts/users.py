from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from db.models import User
from db.repositories.users import AccountRepository
from services.accounts.actors import Actor
from services.accounts.sessions import SessionStates
from services.errors import NotFound
from services.events.bus import record_event
from services.platform.input_checks import parse_int_id


async def get_user(session: AsyncSession, actor: Actor, user_id: str) -> User:
    """A user sees only themselves; backoffice users see everyone."""
    wanted = parse_int_id("user", user_id)
    if not actor.is_backoffice and actor.id != wanted:
        raise NotFound("user", user_id)
    user = await AccountRepository(session, User).get(wanted)
    if user is None:
        raise NotFound("user", user_id)
    return user


async def delete_user(session: AsyncSession, actor: Actor, user_id: str, sessions: SessionStates) -> bool:
    """Deleting a user deletes everything they own (the database cascades), sessions included."""
    user = await get_user(session, actor, user_id)
    await AccountRepository(session, User).delete(user.id)
    sessions.forget_account("user", user.id)
    # The user's own log goes with them; the deletion is logged without an owner.
    record_event(
        session,
        "user.deleted",
        user_id=None,
        session_id=str(actor.session_id),
        payload={"userId": user.id, "by": actor.kind},
    )
    return True
