from __future__ import annotations

from typing import Any

import pytest

from services.execution.components import CATALOG
from services.execution.executors import (
    EXECUTORS,
    EngineServices,
    NodeContext,
    NodeError,
    NodeInputs,
)
from services.execution.executors.context import CharacterLookup, MediaStore
from services.execution.executors.text import fit
from services.execution.graph import Node, Position
from services.execution.models import ModelResolutionError
from services.execution.providers.base import ProviderUnavailable
from tests.execution.fakes import (
    FakeCharacters,
    FakeImageProvider,
    FakeMediaStore,
    FakeProviders,
    FakeTextProvider,
)

MIRA = {
    "name": "Mira",
    "description": "a cartographer",
    "appearance": "",
    "personality": "",
    "outfit": "",
}
SCENE = {"scene": "Setting: harbour.", "blocks": {"setting": "harbour"}}


def context(
    node_type: str,
    *,
    data: dict[str, Any] | None = None,
    inputs: NodeInputs | None = None,
    providers: FakeProviders | None = None,
    media: MediaStore | None = None,
    characters: CharacterLookup | None = None,
    flow_provider_id: str | None = "mistral",
    deltas: list[str] | None = None,
) -> NodeContext:
    spec = CATALOG.get(node_type)
    assert spec is not None
    return NodeContext(
        node=Node(id="n", type=node_type, position=Position(0, 0), data=data or {}),
        spec=spec,
        inputs=inputs or NodeInputs(),
        services=EngineServices(
            providers=providers or FakeProviders(FakeTextProvider()),
            media=media,
            characters=characters,
        ),
        flow_provider_id=flow_provider_id,
        emit_delta=(deltas if deltas is not None else []).append,
    )


def text_in(*texts: str) -> NodeInputs:
    return NodeInputs(texts=texts)


def test_every_executable_type_has_an_executor() -> None:
    executable = {c.type for c in CATALOG.components if c.is_executable}
    assert set(EXECUTORS) == executable


# --- consistentCharacter ----------------------------------------------------------------------


async def test_consistent_character_emits_inline_persona() -> None:
    output = await EXECUTORS["consistentCharacter"](
        context("consistentCharacter", data={"name": " Mira ", "outfit": "wool coat"})
    )
    assert output == {
        "persona": {
            "name": "Mira",
            "description": "",
            "appearance": "",
            "personality": "",
            "outfit": "wool coat",
        }
    }


async def test_consistent_character_fetches_saved_character() -> None:
    saved = {"name": "Saved Mira", "personality": "stubborn", "extra": {"age": 30}}
    ctx = context(
        "consistentCharacter",
        data={"characterId": "c1", "name": "ignored"},
        characters=FakeCharacters({"c1": saved}),
    )
    output = await EXECUTORS["consistentCharacter"](ctx)
    assert output["persona"]["name"] == "Saved Mira"
    assert output["persona"]["personality"] == "stubborn"


async def test_consistent_character_with_unknown_saved_character_fails() -> None:
    ctx = context("consistentCharacter", data={"characterId": "c9"}, characters=FakeCharacters({}))
    with pytest.raises(NodeError, match="saved character 'c9' not found"):
        await EXECUTORS["consistentCharacter"](ctx)


async def test_consistent_character_without_any_field_fails() -> None:
    with pytest.raises(NodeError, match="the character is empty"):
        await EXECUTORS["consistentCharacter"](context("consistentCharacter"))


# --- sceneBuilder -----------------------------------------------------------------------------


async def test_scene_builder_composes_blocks_into_a_scene() -> None:
    ctx = context("sceneBuilder", data={"mood": "hopeful", "setting": "harbour town"})
    output = await EXECUTORS["sceneBuilder"](ctx)
    assert output == {
        "scene": "Setting: harbour town. Mood: hopeful.",
        "blocks": {"setting": "harbour town", "mood": "hopeful"},
    }


async def test_empty_scene_builder_fails() -> None:
    with pytest.raises(NodeError, match="the scene is empty"):
        await EXECUTORS["sceneBuilder"](context("sceneBuilder"))


# --- initialPrompt ----------------------------------------------------------------------------


async def test_initial_prompt_without_adapters_passes_text_through() -> None:
    provider = FakeTextProvider()
    ctx = context("initialPrompt", data={"text": "a cat"}, providers=FakeProviders(provider))
    assert await EXECUTORS["initialPrompt"](ctx) == {"text": "a cat"}
    assert provider.calls == 0


async def test_initial_prompt_with_adapters_calls_the_provider() -> None:
    provider = FakeTextProvider(reply="Mira the cartographer stands in the harbour.")
    deltas: list[str] = []
    ctx = context(
        "initialPrompt",
        data={"text": "Mira stands."},
        inputs=NodeInputs(personas=(MIRA,), scenes=(SCENE,)),
        providers=FakeProviders(provider),
        deltas=deltas,
    )
    output = await EXECUTORS["initialPrompt"](ctx)
    assert output == {"text": "Mira the cartographer stands in the harbour."}
    assert "".join(deltas) == output["text"]
    assert "Scenes:\n- Setting: harbour." in provider.requests[0].messages[1].content


# --- promptEnhancer ---------------------------------------------------------------------------


async def test_prompt_enhancer_streams_the_enhanced_text() -> None:
    provider = FakeTextProvider()
    deltas: list[str] = []
    ctx = context(
        "promptEnhancer",
        data={"notes": "short"},
        inputs=text_in("a cat", "a hat"),
        providers=FakeProviders(provider),
        deltas=deltas,
    )
    output = await EXECUTORS["promptEnhancer"](ctx)
    expected = "echo: Prompt:\na cat\n\na hat\n\nFollow these notes:\nshort"
    assert output == {"text": expected}
    assert len(deltas) > 1 and "".join(deltas) == expected
    assert provider.requests[0].model == "mistral-small-latest"
    assert provider.requests[0].temperature == 0.7


async def test_prompt_enhancer_without_input_text_fails() -> None:
    with pytest.raises(NodeError, match="no input text: connect a text output"):
        await EXECUTORS["promptEnhancer"](context("promptEnhancer"))


async def test_prompt_enhancer_with_empty_input_text_fails() -> None:
    with pytest.raises(NodeError, match="the input text is empty"):
        await EXECUTORS["promptEnhancer"](context("promptEnhancer", inputs=text_in("  ")))


# --- translator -------------------------------------------------------------------------------


async def test_translator_uses_the_language_name() -> None:
    provider = FakeTextProvider(reply="Bonjour")
    ctx = context(
        "translator",
        data={"targetLanguage": "fr"},
        inputs=text_in("Hello"),
        providers=FakeProviders(provider),
    )
    assert await EXECUTORS["translator"](ctx) == {"text": "Bonjour"}
    assert "into French" in provider.requests[0].messages[0].content
    assert provider.requests[0].temperature == 0.3


async def test_translator_with_unknown_language_fails() -> None:
    ctx = context("translator", data={"targetLanguage": "xx"}, inputs=text_in("Hello"))
    with pytest.raises(NodeError, match="unknown target language 'xx'"):
        await EXECUTORS["translator"](ctx)


# --- storyTeller ------------------------------------------------------------------------------


async def test_story_teller_is_creative_and_uses_personas() -> None:
    provider = FakeTextProvider(reply="Once upon a time.")
    ctx = context(
        "storyTeller",
        data={"length": "long"},
        inputs=NodeInputs(texts=("A voyage",), personas=(MIRA,)),
        providers=FakeProviders(provider),
    )
    assert await EXECUTORS["storyTeller"](ctx) == {"text": "Once upon a time."}
    request = provider.requests[0]
    assert request.temperature == 0.95
    assert "about 900 to 1,200 words" in request.messages[0].content
    assert "- Mira (Description: a cartographer)" in request.messages[1].content


# --- grammarFix -------------------------------------------------------------------------------


async def test_grammar_fix_passes_the_style() -> None:
    provider = FakeTextProvider(reply="The cat.")
    ctx = context(
        "grammarFix",
        data={"style": "formal"},
        inputs=text_in("teh cat"),
        providers=FakeProviders(provider),
    )
    assert await EXECUTORS["grammarFix"](ctx) == {"text": "The cat."}
    assert "formal style" in provider.requests[0].messages[0].content


# --- compressor -------------------------------------------------------------------------------


async def test_compressor_passes_short_text_through() -> None:
    provider = FakeTextProvider()
    ctx = context("compressor", inputs=text_in("x" * 2500), providers=FakeProviders(provider))
    assert await EXECUTORS["compressor"](ctx) == {"text": "x" * 2500}
    assert provider.calls == 0


async def test_compressor_calls_the_provider_over_the_default_limit() -> None:
    provider = FakeTextProvider(reply="short")
    ctx = context("compressor", inputs=text_in("x" * 2501), providers=FakeProviders(provider))
    assert await EXECUTORS["compressor"](ctx) == {"text": "short"}
    assert "at most 2500 characters" in provider.requests[0].messages[0].content


async def test_compressor_cuts_a_reply_that_overshoots_its_limit() -> None:
    provider = FakeTextProvider(reply="one two three four")
    ctx = context(
        "compressor",
        data={"maxChars": 10},
        inputs=text_in("x" * 50),
        providers=FakeProviders(provider),
    )
    assert await EXECUTORS["compressor"](ctx) == {"text": "one two"}


def test_fit_cuts_at_a_word_boundary() -> None:
    assert fit("one two three", 7) == "one two"
    assert fit("one two three", 9) == "one two"
    assert fit("onetwothree", 5) == "onetw"
    assert fit("short", 10) == "short"


# --- textOutput -------------------------------------------------------------------------------


async def test_text_output_collects_its_merged_input_text() -> None:
    ctx = context("textOutput", inputs=text_in("first", "second"))
    assert await EXECUTORS["textOutput"](ctx) == {"text": "first\n\nsecond"}


async def test_text_output_without_input_fails() -> None:
    with pytest.raises(NodeError, match="no input text"):
        await EXECUTORS["textOutput"](context("textOutput"))


# --- imageGenerator ---------------------------------------------------------------------------


async def test_image_generator_saves_the_image_and_returns_its_url() -> None:
    images = FakeImageProvider()
    media = FakeMediaStore()
    ctx = context(
        "imageGenerator",
        data={"width": 512, "height": 768, "steps": 8, "seed": 42},
        inputs=text_in("a lighthouse"),
        providers=FakeProviders(images),
        media=media,
    )
    output = await EXECUTORS["imageGenerator"](ctx)
    assert output == {"images": [{"url": "/media/1.png", "width": 512, "height": 768, "seed": 42}]}
    assert media.saved["/media/1.png"] == (b"image of a lighthouse", "image/png")
    request = images.requests[0]
    assert (request.model, request.steps, request.seed) == ("flux-1-schnell-fp8", 8, 42)


async def test_image_generator_aspect_ratio_sets_the_size() -> None:
    images = FakeImageProvider()
    ctx = context(
        "imageGenerator",
        data={"aspectRatio": "16:9", "width": 512},
        inputs=text_in("a lighthouse"),
        providers=FakeProviders(images),
        media=FakeMediaStore(),
    )
    await EXECUTORS["imageGenerator"](ctx)
    assert (images.requests[0].width, images.requests[0].height) == (1344, 768)


async def test_image_generator_defaults_to_a_square_megapixel() -> None:
    images = FakeImageProvider()
    ctx = context(
        "imageGenerator",
        inputs=text_in("x"),
        providers=FakeProviders(images),
        media=FakeMediaStore(),
    )
    await EXECUTORS["imageGenerator"](ctx)
    assert (images.requests[0].width, images.requests[0].height, images.requests[0].steps) == (
        1024,
        1024,
        4,
    )


async def test_image_generator_without_fireworks_key_fails_naming_the_setting() -> None:
    ctx = context("imageGenerator", inputs=text_in("x"), media=FakeMediaStore())
    with pytest.raises(ProviderUnavailable, match="FIREWORKS_API_KEY"):
        await EXECUTORS["imageGenerator"](ctx)


async def test_image_generator_without_media_store_fails_before_calling() -> None:
    images = FakeImageProvider()
    ctx = context("imageGenerator", inputs=text_in("x"), providers=FakeProviders(images))
    with pytest.raises(NodeError, match="no media store"):
        await EXECUTORS["imageGenerator"](ctx)
    assert images.requests == []


# --- imageOutput ------------------------------------------------------------------------------


async def test_image_output_collects_its_input_images() -> None:
    image = {"url": "/media/1.png", "width": 1, "height": 1, "seed": 1}
    ctx = context("imageOutput", inputs=NodeInputs(images=(image, image)))
    assert await EXECUTORS["imageOutput"](ctx) == {"images": [image, image]}


async def test_image_output_without_images_fails() -> None:
    with pytest.raises(NodeError, match="no input images"):
        await EXECUTORS["imageOutput"](context("imageOutput"))


# --- model resolution inside a node -----------------------------------------------------------


async def test_text_node_without_any_provider_fails() -> None:
    ctx = context("grammarFix", inputs=text_in("x"), flow_provider_id=None)
    with pytest.raises(ModelResolutionError, match="no provider chosen"):
        await EXECUTORS["grammarFix"](ctx)


async def test_text_node_with_unavailable_provider_fails_naming_the_setting() -> None:
    ctx = context("grammarFix", inputs=text_in("x"), flow_provider_id="claude")
    with pytest.raises(ProviderUnavailable, match="ANTHROPIC_API_KEY"):
        await EXECUTORS["grammarFix"](ctx)


async def test_text_node_override_calls_the_overriding_provider() -> None:
    claude = FakeTextProvider("claude", reply="ok")
    ctx = context(
        "grammarFix",
        data={"model": {"provider": "claude", "model": "claude-opus-4"}},
        inputs=text_in("x"),
        providers=FakeProviders(FakeTextProvider(), claude),
    )
    await EXECUTORS["grammarFix"](ctx)
    assert claude.requests[0].model == "claude-opus-4"
