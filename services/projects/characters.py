from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Character
from db.repositories.projects import OwnedRepository
from services.accounts.actors import Actor
from services.accounts.auth import require_user
from services.errors import BadInput
from services.events.bus import record_event
from services.platform.input_checks import clean_name, clean_text, parse_uuid
from services.platform.pagination import Page, PageRequest
from services.projects.ownership import get_visible
from services.projects.projects import get_project, list_project_contents

TEXT_ATTRIBUTES = ("description", "appearance", "personality", "outfit")


@dataclass(frozen=True)
class CharacterChanges:
    """What a create or update sets; None leaves a value as it is (or empty, on create)."""

    name: str | None = None
    description: str | None = None
    appearance: str | None = None
    personality: str | None = None
    outfit: str | None = None
    extra: Any = None


async def get_character(session: AsyncSession, actor: Actor, character_id: str) -> Character:
    return await get_visible(
        session, actor, Character, "character", parse_uuid("character", character_id)
    )


async def list_characters(
    session: AsyncSession, actor: Actor, request: PageRequest, *, project_id: str | None
) -> Page[Row[Any]]:
    return await list_project_contents(session, actor, Character, request, project_id=project_id)


async def create_character(
    session: AsyncSession,
    actor: Actor,
    *,
    project_id: str | None,
    changes: CharacterChanges,
    max_text_length: int,
) -> Character:
    user = require_user(actor)
    project = await get_project(session, actor, project_id) if project_id is not None else None
    if changes.name is None:
        raise BadInput("name", "is required")
    character = Character(
        user_id=user.id, project_id=project.id if project else None, extra={}
    )
    _apply(character, changes, max_text_length)
    await OwnedRepository(session, Character).add(character)
    _record(session, actor, "character.created", character)
    return character


async def update_character(
    session: AsyncSession,
    actor: Actor,
    character_id: str,
    *,
    changes: CharacterChanges,
    max_text_length: int,
) -> Character:
    character = await get_character(session, actor, character_id)
    _apply(character, changes, max_text_length)
    await session.flush()
    _record(session, actor, "character.updated", character)
    return character


async def delete_character(session: AsyncSession, actor: Actor, character_id: str) -> bool:
    character = await get_character(session, actor, character_id)
    _record(session, actor, "character.deleted", character)
    await OwnedRepository(session, Character).delete(character)
    return True


def _apply(character: Character, changes: CharacterChanges, max_text_length: int) -> None:
    if changes.name is not None:
        character.name = clean_name("name", changes.name)
    for attribute in TEXT_ATTRIBUTES:
        value = getattr(changes, attribute)
        if value is not None:
            setattr(character, attribute, clean_text(attribute, value, max_length=max_text_length))
    if changes.extra is not None:
        character.extra = _checked_extra(changes.extra, max_text_length)


def _checked_extra(extra: Any, max_text_length: int) -> dict[str, Any]:
    if not isinstance(extra, dict):
        raise BadInput("extra", "must be a JSON object")
    if len(json.dumps(extra)) > max_text_length:
        raise BadInput("extra", f"must be at most {max_text_length} characters of JSON")
    return extra


def _record(session: AsyncSession, actor: Actor, name: str, character: Character) -> None:
    record_event(
        session,
        name,
        user_id=character.user_id,
        project_id=character.project_id,
        session_id=str(actor.session_id),
        payload={"characterId": str(character.id), "name": character.name},
    )
