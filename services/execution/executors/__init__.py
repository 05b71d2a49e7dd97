"""The executor of every executable node type, in one explicit registry.

An executor is an async function from a `NodeContext` to the node's output JSON; it raises
`NodeError` (or a provider's `ProviderError`) when the node cannot produce it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from services.execution.executors.context import (
    CharacterLookup,
    EngineServices,
    JSONObject,
    MediaStore,
    NodeContext,
    NodeError,
    NodeInputs,
    ProviderLookup,
    collect_inputs,
)
from services.execution.executors.images import image_generator
from services.execution.executors.outputs import image_output, text_output
from services.execution.executors.sources import consistent_character, scene_builder
from services.execution.executors.text import (
    compressor,
    grammar_fix,
    initial_prompt,
    prompt_enhancer,
    story_teller,
    translator,
)

Executor = Callable[[NodeContext], Awaitable[JSONObject]]

EXECUTORS: dict[str, Executor] = {
    "consistentCharacter": consistent_character,
    "sceneBuilder": scene_builder,
    "initialPrompt": initial_prompt,
    "promptEnhancer": prompt_enhancer,
    "translator": translator,
    "storyTeller": story_teller,
    "grammarFix": grammar_fix,
    "compressor": compressor,
    "textOutput": text_output,
    "imageGenerator": image_generator,
    "imageOutput": image_output,
}

__all__ = [
    "EXECUTORS",
    "CharacterLookup",
    "EngineServices",
    "Executor",
    "JSONObject",
    "MediaStore",
    "NodeContext",
    "NodeError",
    "NodeInputs",
    "ProviderLookup",
    "collect_inputs",
]
