"""Data-source nodes: they compose data from their fields and call no provider."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from services.execution.executors.context import JSONObject, NodeContext, NodeError
from services.execution.scene import scene_blocks, scene_prompt

PERSONA_KEYS = ("name", "description", "appearance", "personality", "outfit")


async def consistent_character(context: NodeContext) -> JSONObject:
    character_id = context.text("characterId")
    fields = await _saved_character(context, character_id) if character_id else context.node.data
    persona = {key: str(fields.get(key) or "").strip() for key in PERSONA_KEYS}
    if not any(persona.values()):
        raise NodeError("the character is empty: choose a saved character or give it a name")
    return {"persona": persona}


async def _saved_character(context: NodeContext, character_id: str) -> Mapping[str, Any]:
    characters = context.services.characters
    if characters is None:
        raise NodeError("saved characters are not available in this run")
    fields = await characters.lookup(character_id)
    if fields is None:
        raise NodeError(f"saved character {character_id!r} not found")
    return fields


async def scene_builder(context: NodeContext) -> JSONObject:
    blocks = scene_blocks(context.node.data)
    if not blocks:
        raise NodeError("the scene is empty: fill in at least one block (setting, mood, ...)")
    return {"scene": scene_prompt(blocks), "blocks": blocks}
