"""What the engine looks up for a run's user: their saved characters and their earlier results.

The engine asks through its own protocols (`CharacterLookup`, `ResultCache`) and knows nothing
of users or databases; these bind each lookup to the run's user, read through their owner.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import Character
from db.repositories.projects import OwnedRepository
from db.repositories.runs import RunRepository


class UserCharacters:
    """The run's user's saved characters, for consistentCharacter nodes."""

    def __init__(self, session_factory: async_sessionmaker[AsyncSession], user_id: int) -> None:
        self._session_factory = session_factory
        self._user_id = user_id

    async def lookup(self, character_id: str) -> Mapping[str, Any] | None:
        try:
            key = uuid.UUID(character_id)
        except ValueError:
            return None
        async with self._session_factory() as session:
            character = await OwnedRepository(session, Character).get(key, owner_id=self._user_id)
        if character is None:
            return None
        return {
            "name": character.name,
            "description": character.description,
            "appearance": character.appearance,
            "personality": character.personality,
            "outfit": character.outfit,
            **({"extra": character.extra} if character.extra else {}),
        }


class UserResults:
    """Stored outputs of identical nodes in the user's earlier runs, for partial re-execution."""

    def __init__(self, session_factory: async_sessionmaker[AsyncSession], user_id: int) -> None:
        self._session_factory = session_factory
        self._user_id = user_id

    async def lookup(self, cache_key: str) -> Mapping[str, Any] | None:
        async with self._session_factory() as session:
            return await RunRepository(session).stored_output(cache_key=cache_key, owner_id=self._user_id)
