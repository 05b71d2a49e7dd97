"""The component types of the catalog (ARCHITECTURE.md, "The catalog"): its one source.

The server validates graphs and answers `components` from `CATALOG`; `seeds.seeding` writes
the same definitions into the catalog tables. docs/adding-a-node-type.md says what else a new
type needs.

Field keys and port keys are the contract with the editor: node `data` uses the field keys and
edges name the port keys as handles, so they must never be renamed here.

Field kinds, a fixed vocabulary the editor renders and the engine validates:
  text      one line of free text
  textarea  several lines of free text
  number    a number, bounded by `validation` (min, max, multipleOf)
  select    one of `options`; anything else is rejected
  combobox  `options` are suggestions; free text is accepted too
  character the id of a saved consistent character
  model     a model override, {"provider": ..., "model": ...} (ARCHITECTURE.md, "Models and providers"); `options`
            suggest model ids of the node type's default provider
"""

from __future__ import annotations

from typing import Any

from services.execution.catalog import (
    ApiConfig,
    Catalog,
    ComponentSpec,
    FieldOption,
    FieldSpec,
    PortDirection,
    PortSpec,
)
from services.execution.languages import LANGUAGES
from services.execution.scene import SCENE_BLOCKS

# Generous bounds: they stop runaway payloads, not ordinary prompts.
LONG_TEXT_MAX_LENGTH = 100_000
SHORT_TEXT_MAX_LENGTH = 200

# --- small constructors ------------------------------------------------------------------------


def _options(*values: str) -> tuple[FieldOption, ...]:
    """Options whose value is used as is in prompts and whose label is the same, capitalised."""
    return tuple(FieldOption(value=value, label=value[:1].upper() + value[1:]) for value in values)


def _labelled_options(pairs: dict[str, str]) -> tuple[FieldOption, ...]:
    return tuple(FieldOption(value=value, label=label) for value, label in pairs.items())


def _field(
    key: str,
    label: str,
    kind: str,
    *,
    default: Any = None,
    options: tuple[FieldOption, ...] | None = None,
    required: bool = False,
    validation: dict[str, Any] | None = None,
) -> FieldSpec:
    return FieldSpec(
        key=key,
        label=label,
        kind=kind,
        default=default,
        options=options,
        required=required,
        validation=validation,
    )


def _text(key: str, label: str) -> FieldSpec:
    return _field(key, label, "text", validation={"maxLength": SHORT_TEXT_MAX_LENGTH})


def _textarea(key: str, label: str, *, required: bool = False) -> FieldSpec:
    return _field(
        key, label, "textarea", required=required, validation={"maxLength": LONG_TEXT_MAX_LENGTH}
    )


def _combobox(key: str, label: str, options: tuple[FieldOption, ...]) -> FieldSpec:
    return _field(
        key, label, "combobox", options=options, validation={"maxLength": SHORT_TEXT_MAX_LENGTH}
    )


def _number(key: str, label: str, *, default: int | None, validation: dict[str, Any]) -> FieldSpec:
    return _field(key, label, "number", default=default, validation=validation)


def _port(
    key: str, direction: PortDirection, kind: str, label: str, *, multiple: bool = False
) -> PortSpec:
    return PortSpec(key=key, direction=direction, kind=kind, multiple=multiple, label=label)


def _text_inputs(label: str = "Text") -> PortSpec:
    return _port("text", "input", "text", label, multiple=True)


def _text_output(label: str) -> PortSpec:
    return _port("text", "output", "text", label)


def _no_provider_call() -> ApiConfig:
    # Every type gets an ApiConfig, so consumers never have to tell "none" from "missing".
    return ApiConfig(
        provider_call="none",
        provider_kind=None,
        default_provider=None,
        default_model=None,
        temperature=None,
        prompt_id=None,
    )


def _text_provider_call(
    prompt_id: str, temperature: float, *, conditional: bool = False
) -> ApiConfig:
    # No default provider or model: text nodes use the flow's provider unless overridden.
    return ApiConfig(
        provider_call="conditional" if conditional else "always",
        provider_kind="text",
        default_provider=None,
        default_model=None,
        temperature=temperature,
        prompt_id=prompt_id,
    )


def _object_schema(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": required}


_STRING: dict[str, Any] = {"type": "string"}
_TEXT_OUTPUT_SCHEMA = _object_schema({"text": _STRING}, ["text"])
_IMAGE = _object_schema(
    {
        "url": _STRING,
        "width": {"type": "integer"},
        "height": {"type": "integer"},
        # The provider may not report the seed it drew when none was given.
        "seed": {"type": ["integer", "null"]},
    },
    ["url", "width", "height"],
)
_IMAGES_OUTPUT_SCHEMA = _object_schema({"images": {"type": "array", "items": _IMAGE}}, ["images"])
_PERSONA = _object_schema(
    {
        "name": _STRING,
        "description": _STRING,
        "appearance": _STRING,
        "personality": _STRING,
        "outfit": _STRING,
    },
    ["name"],
)

# --- option lists -------------------------------------------------------------------------------

SCENE_OPTIONS: dict[str, tuple[FieldOption, ...]] = {
    "setting": _options(
        "city street", "forest", "beach", "desert", "mountains", "countryside", "office",
        "café", "medieval castle", "space station", "underwater", "studio",
    ),
    "timeOfDay": _options(
        "dawn", "morning", "noon", "afternoon", "golden hour", "dusk", "night", "midnight",
    ),
    "lighting": _options(
        "natural light", "soft light", "hard light", "backlight", "neon lights", "candlelight",
        "studio lighting", "volumetric light",
    ),
    "mood": _options(
        "peaceful", "joyful", "mysterious", "tense", "melancholic", "romantic", "epic", "eerie",
    ),
    "camera": _options(
        "close-up", "medium shot", "wide shot", "aerial view", "low angle", "high angle",
        "over-the-shoulder", "macro",
    ),
    "style": _options(
        "photorealistic", "cinematic", "anime", "watercolor", "oil painting", "digital art",
        "pixel art", "3D render",
    ),
    "weather": _options("clear", "cloudy", "rain", "storm", "snow", "fog", "windy"),
}

STORY_LENGTHS = _options("short", "medium", "long")

WRITING_STYLES = _options("formal", "casual", "academic", "business", "friendly", "concise")

ASPECT_RATIOS = _labelled_options(
    {
        "1:1": "1:1 (square)",
        "16:9": "16:9 (landscape)",
        "9:16": "9:16 (portrait)",
        "4:3": "4:3",
        "3:4": "3:4",
        "3:2": "3:2",
        "2:3": "2:3",
    }
)

IMAGE_MODELS = _labelled_options(
    {"flux-1-schnell-fp8": "FLUX.1 [schnell]", "flux-1-dev-fp8": "FLUX.1 [dev]"}
)

# Flux works on multiples of 16 pixels; beyond ~1.5 megapixels per side it degrades.
IMAGE_SIDE_VALIDATION = {"min": 256, "max": 1536, "multipleOf": 16}

# --- the components -----------------------------------------------------------------------------

CONSISTENT_CHARACTER = ComponentSpec(
    type="consistentCharacter",
    name="Consistent Character",
    category="data source",
    description=(
        "A persona kept the same across prompts: a saved character, or the fields filled in here."
    ),
    icon="user",
    order=0,
    is_executable=True,
    fields=(
        _field("characterId", "Saved character", "character"),
        _text("name", "Name"),
        _textarea("description", "Description"),
        _textarea("appearance", "Appearance"),
        _textarea("personality", "Personality"),
        _textarea("outfit", "Outfit"),
    ),
    ports=(_port("persona", "output", "persona", "Persona"),),
    api_config=_no_provider_call(),
    output_schema=_object_schema({"persona": _PERSONA}, ["persona"]),
)

SCENE_BUILDER = ComponentSpec(
    type="sceneBuilder",
    name="Scene Builder",
    category="data source",
    description="Composes a scene from blocks: setting, time of day, lighting, mood, camera, "
    "style and weather.",
    icon="clapperboard",
    order=1,
    is_executable=True,
    fields=tuple(
        _combobox(key, SCENE_BLOCKS[key], options) for key, options in SCENE_OPTIONS.items()
    ),
    ports=(_port("scene", "output", "scene", "Scene"),),
    api_config=_no_provider_call(),
    output_schema=_object_schema(
        {"scene": _STRING, "blocks": {"type": "object", "additionalProperties": _STRING}},
        ["scene", "blocks"],
    ),
)

INITIAL_PROMPT = ComponentSpec(
    type="initialPrompt",
    name="Initial Prompt",
    category="text",
    description="The text a pipeline starts from; connected personas and scenes are woven into it.",
    icon="message-square",
    order=2,
    is_executable=True,
    fields=(_textarea("text", "Prompt", required=True),),
    ports=(
        _port("persona", "input", "persona", "Personas", multiple=True),
        _port("scene", "input", "scene", "Scenes", multiple=True),
        _text_output("Text"),
    ),
    # Only adapters need a model; plain text passes through.
    api_config=_text_provider_call("initialPrompt", 0.7, conditional=True),
    output_schema=_TEXT_OUTPUT_SCHEMA,
)

PROMPT_ENHANCER = ComponentSpec(
    type="promptEnhancer",
    name="Prompt Enhancer",
    category="text",
    description="Rewrites a prompt to be clearer and richer, following optional notes.",
    icon="sparkles",
    order=3,
    is_executable=True,
    fields=(_textarea("notes", "Notes"),),
    ports=(_text_inputs(), _text_output("Enhanced text")),
    api_config=_text_provider_call("promptEnhancer", 0.7),
    output_schema=_TEXT_OUTPUT_SCHEMA,
)

TRANSLATOR = ComponentSpec(
    type="translator",
    name="Translator",
    category="text",
    description="Translates text into a target language.",
    icon="languages",
    order=4,
    is_executable=True,
    fields=(
        _field(
            "targetLanguage",
            "Target language",
            "select",
            options=_labelled_options(LANGUAGES),
            required=True,
        ),
    ),
    ports=(_text_inputs(), _text_output("Translation")),
    # Low temperature: a translation should be faithful, not creative.
    api_config=_text_provider_call("translator", 0.3),
    output_schema=_TEXT_OUTPUT_SCHEMA,
)

STORY_TELLER = ComponentSpec(
    type="storyTeller",
    name="Story Teller",
    category="text",
    description="Writes a creative narrative from text and personas.",
    icon="book-open",
    order=5,
    is_executable=True,
    fields=(
        _textarea("notes", "Notes"),
        _field("length", "Length", "select", default="medium", options=STORY_LENGTHS),
    ),
    ports=(
        _text_inputs(),
        _port("persona", "input", "persona", "Personas", multiple=True),
        _text_output("Story"),
    ),
    api_config=_text_provider_call("storyTeller", 0.95),
    output_schema=_TEXT_OUTPUT_SCHEMA,
)

GRAMMAR_FIX = ComponentSpec(
    type="grammarFix",
    name="Grammar Fix",
    category="text",
    description="Corrects grammar and spelling, optionally in a given style.",
    icon="spell-check",
    order=6,
    is_executable=True,
    fields=(_combobox("style", "Style", WRITING_STYLES),),
    ports=(_text_inputs(), _text_output("Corrected text")),
    api_config=_text_provider_call("grammarFix", 0.2),
    output_schema=_TEXT_OUTPUT_SCHEMA,
)

COMPRESSOR = ComponentSpec(
    type="compressor",
    name="Compressor",
    category="text",
    description="Shortens text longer than a limit, keeping its meaning; shorter text passes "
    "through.",
    icon="shrink",
    order=7,
    is_executable=True,
    fields=(
        _number(
            "maxChars", "Maximum characters", default=2500, validation={"min": 1, "max": 100_000}
        ),
    ),
    ports=(_text_inputs(), _text_output("Compressed text")),
    api_config=_text_provider_call("compressor", 0.3, conditional=True),
    output_schema=_TEXT_OUTPUT_SCHEMA,
)

TEXT_OUTPUT = ComponentSpec(
    type="textOutput",
    name="Text Output",
    category="output",
    description="Collects the text of a pipeline.",
    icon="file-text",
    order=8,
    is_executable=True,
    fields=(_text("label", "Label"),),
    ports=(_text_inputs(),),
    api_config=_no_provider_call(),
    output_schema=_TEXT_OUTPUT_SCHEMA,
)

IMAGE_GENERATOR = ComponentSpec(
    type="imageGenerator",
    name="Image Generator",
    category="image",
    description="Generates images from its text prompt with Black Forest Labs Flux on Fireworks.",
    icon="image",
    order=9,
    is_executable=True,
    fields=(
        _number("width", "Width", default=1024, validation=IMAGE_SIDE_VALIDATION),
        _number("height", "Height", default=1024, validation=IMAGE_SIDE_VALIDATION),
        _field("aspectRatio", "Aspect ratio", "select", options=ASPECT_RATIOS),
        _number("steps", "Steps", default=4, validation={"min": 1, "max": 50}),
        # No default: the provider draws a random seed.
        _number("seed", "Seed", default=None, validation={"min": 0, "max": 2_147_483_647}),
        _field("model", "Model", "model", options=IMAGE_MODELS),
    ),
    ports=(
        _port("text", "input", "text", "Prompt"),
        _port("images", "output", "image", "Images"),
    ),
    api_config=ApiConfig(
        provider_call="always",
        provider_kind="image",
        default_provider="fireworks",
        default_model="flux-1-schnell-fp8",
        temperature=None,
        prompt_id="imageGenerator",
    ),
    output_schema=_IMAGES_OUTPUT_SCHEMA,
)

IMAGE_OUTPUT = ComponentSpec(
    type="imageOutput",
    name="Image Output",
    category="output",
    description="Collects the images of a pipeline.",
    icon="images",
    order=10,
    is_executable=True,
    fields=(_text("label", "Label"),),
    ports=(_port("images", "input", "image", "Images", multiple=True),),
    api_config=_no_provider_call(),
    output_schema=_IMAGES_OUTPUT_SCHEMA,
)

NOTE = ComponentSpec(
    type="note",
    name="Note",
    category="editor",
    description="A sticky note on the canvas; the engine ignores it.",
    icon="sticky-note",
    order=11,
    is_executable=False,
    fields=(_textarea("text", "Text"),),
    ports=(),
    api_config=_no_provider_call(),
    output_schema=None,
)

GROUP = ComponentSpec(
    type="group",
    name="Group",
    category="editor",
    description="A frame around nodes; the engine ignores it.",
    icon="frame",
    order=12,
    is_executable=False,
    fields=(_text("label", "Label"),),
    ports=(),
    api_config=_no_provider_call(),
    output_schema=None,
)

CATALOG: Catalog = Catalog(
    components=(
        CONSISTENT_CHARACTER,
        SCENE_BUILDER,
        INITIAL_PROMPT,
        PROMPT_ENHANCER,
        TRANSLATOR,
        STORY_TELLER,
        GRAMMAR_FIX,
        COMPRESSOR,
        TEXT_OUTPUT,
        IMAGE_GENERATOR,
        IMAGE_OUTPUT,
        NOTE,
        GROUP,
    )
)
