"""Reading an owned object: its owner and backoffice users see it; for anyone else it does not exist."""

from __future__ import annotations

from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Character, Flow, Project
from db.repositories.projects import OwnedId, OwnedRepository
from services.accounts.actors import Actor
from services.errors import NotFound

Owned = TypeVar("Owned", Project, Flow, Character)


async def get_visible(
    session: AsyncSession, actor: Actor, model: type[Owned], kind: str, object_id: OwnedId
) -> Owned:
    row = await OwnedRepository(session, model).get(object_id, owner_id=actor.owner_filter)
    if row is None:
        raise NotFound(kind, object_id)
    return row
