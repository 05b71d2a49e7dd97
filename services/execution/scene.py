"""A sceneBuilder's blocks composed into one scene prompt, always in the same order."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Block key (the node's field key) -> label in the prompt, in prompt order.
SCENE_BLOCKS: dict[str, str] = {
    "setting": "Setting",
    "timeOfDay": "Time of day",
    "lighting": "Lighting",
    "mood": "Mood",
    "camera": "Camera",
    "style": "Style",
    "weather": "Weather",
}


def scene_blocks(data: Mapping[str, Any]) -> dict[str, str]:
    """The filled-in blocks of a node's data, trimmed, in prompt order."""
    blocks = {key: str(data.get(key) or "").strip() for key in SCENE_BLOCKS}
    return {key: value for key, value in blocks.items() if value}


def scene_prompt(blocks: Mapping[str, str]) -> str:
    # Sentence per block: unambiguous for a model, and readable in the editor.
    return " ".join(
        f"{label}: {blocks[key].rstrip('. ')}."
        for key, label in SCENE_BLOCKS.items()
        if blocks.get(key)
    )
