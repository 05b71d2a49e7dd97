from __future__ import annotations

import strawberry

from resolvers.common import given, max_text_length, page_of
from schema.context import Info
from schema.inputs import CreateCharacterInput, UpdateCharacterInput
from schema.types.pagination import Connection
from schema.types.projects import Character
from services.projects import characters
from services.projects.characters import CharacterChanges


async def list_characters(
    info: Info,
    project_id: strawberry.ID | None = None,
    first: int | None = None,
    after: str | None = None,
) -> Connection[Character]:
    actor = await info.context.require_actor()
    page = await characters.list_characters(
        info.context.session, actor, page_of(info, first, after), project_id=project_id
    )
    return Connection.of(page, Character.from_model)


async def character(info: Info, id: strawberry.ID) -> Character:
    actor = await info.context.require_actor()
    return Character.from_model(await characters.get_character(info.context.session, actor, id))


async def create_character(info: Info, input: CreateCharacterInput) -> Character:
    actor = await info.context.require_actor()
    created = await characters.create_character(
        info.context.session,
        actor,
        project_id=given(input.project_id),
        changes=_changes(input),
        max_text_length=max_text_length(info),
    )
    return Character.from_model(created)


async def update_character(
    info: Info, id: strawberry.ID, input: UpdateCharacterInput
) -> Character:
    actor = await info.context.require_actor()
    updated = await characters.update_character(
        info.context.session,
        actor,
        id,
        changes=_changes(input),
        max_text_length=max_text_length(info),
    )
    return Character.from_model(updated)


async def delete_character(info: Info, id: strawberry.ID) -> bool:
    actor = await info.context.require_actor()
    return await characters.delete_character(info.context.session, actor, id)


def _changes(input: CreateCharacterInput | UpdateCharacterInput) -> CharacterChanges:
    return CharacterChanges(
        name=given(input.name),
        description=given(input.description),
        appearance=given(input.appearance),
        personality=given(input.personality),
        outfit=given(input.outfit),
        extra=given(input.extra),
    )
