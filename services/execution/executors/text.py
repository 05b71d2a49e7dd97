"""Text nodes: each builds its prompt, streams the provider's reply as deltas, returns the text."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import aclosing

from services.execution import prompts
from services.execution.executors.context import JSONObject, NodeContext, NodeError
from services.execution.languages import language_name
from services.execution.models import resolve_model
from services.execution.providers.base import Message, TextRequest

DEFAULT_MAX_CHARS = 2500


async def initial_prompt(context: NodeContext) -> JSONObject:
    text = context.text("text")
    personas, scenes = context.inputs.personas, context.inputs.scenes
    if not personas and not scenes:
        # Nothing to weave in: the user's text is the prompt, no provider call needed.
        return {"text": text}
    scene_texts = [str(scene["scene"]) for scene in scenes]
    messages = prompts.initial_prompt(text=text, personas=personas, scenes=scene_texts)
    return {"text": await generate_text(context, messages)}


async def prompt_enhancer(context: NodeContext) -> JSONObject:
    messages = prompts.prompt_enhancer(
        text=context.require_input_text(), notes=context.text("notes") or None
    )
    return {"text": await generate_text(context, messages)}


async def translator(context: NodeContext) -> JSONObject:
    code = context.text("targetLanguage")
    language = language_name(code) if code else None
    if language is None:
        raise NodeError(f"unknown target language {code!r}")
    messages = prompts.translator(text=context.require_input_text(), language=language)
    return {"text": await generate_text(context, messages)}


async def story_teller(context: NodeContext) -> JSONObject:
    messages = prompts.story_teller(
        text=context.require_input_text(),
        personas=context.inputs.personas,
        length=context.text("length") or "medium",
        notes=context.text("notes") or None,
    )
    return {"text": await generate_text(context, messages)}


async def grammar_fix(context: NodeContext) -> JSONObject:
    messages = prompts.grammar_fix(
        text=context.require_input_text(), style=context.text("style") or None
    )
    return {"text": await generate_text(context, messages)}


async def compressor(context: NodeContext) -> JSONObject:
    text = context.require_input_text()
    max_chars = int(context.value("maxChars") or DEFAULT_MAX_CHARS)
    if len(text) <= max_chars:
        return {"text": text}
    messages = prompts.compressor(text=text, max_chars=max_chars)
    return {"text": fit(await generate_text(context, messages), max_chars)}


def fit(text: str, max_chars: int) -> str:
    """Models overshoot length limits; the limit is a promise, so cut at a word boundary."""
    if len(text) <= max_chars:
        return text
    head = text[:max_chars]
    if text[max_chars].isspace():
        return head.rstrip()
    words = head.rsplit(None, 1)
    return words[0].rstrip() if len(words) == 2 else head


async def generate_text(context: NodeContext, messages: Sequence[Message]) -> str:
    choice = resolve_model(
        data=context.node.data, spec=context.spec, flow_provider_id=context.flow_provider_id
    )
    provider = context.services.providers.text(choice.provider_id)
    config = context.spec.api_config
    request = TextRequest(
        model=choice.model,
        messages=tuple(messages),
        temperature=config.temperature if config else None,
    )
    pieces: list[str] = []
    # aclosing: if anything here fails, the stream (and its provider slot) is released now.
    async with aclosing(provider.stream_text(request)) as stream:
        async for piece in stream:
            pieces.append(piece)
            context.emit_delta(piece)
    text = "".join(pieces).strip()
    if not text:
        raise NodeError(f"{choice.provider_id} returned no text (model {choice.model})")
    return text
