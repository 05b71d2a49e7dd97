from __future__ import annotations

from services.execution.scene import scene_blocks, scene_prompt


def test_scene_blocks_keep_filled_blocks_in_prompt_order() -> None:
    data = {"weather": " fog ", "setting": "harbour", "mood": "", "label": "not a block"}
    assert list(scene_blocks(data).items()) == [("setting", "harbour"), ("weather", "fog")]


def test_scene_prompt_is_one_sentence_per_block_in_fixed_order() -> None:
    blocks = {"weather": "light fog", "setting": "harbour town", "timeOfDay": "dawn."}
    assert scene_prompt(blocks) == "Setting: harbour town. Time of day: dawn. Weather: light fog."


def test_scene_prompt_of_every_block() -> None:
    data = {
        "setting": "forest",
        "timeOfDay": "dusk",
        "lighting": "backlight",
        "mood": "eerie",
        "camera": "low angle",
        "style": "anime",
        "weather": "rain",
    }
    assert scene_prompt(scene_blocks(data)) == (
        "Setting: forest. Time of day: dusk. Lighting: backlight. Mood: eerie. "
        "Camera: low angle. Style: anime. Weather: rain."
    )
