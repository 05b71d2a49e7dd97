"""The messages each provider-calling text node sends: one small function per node type.

Every function is pure: the same arguments give the same messages, so prompts are tested as
plain data. Replies are asked to be the bare result, because the node's output is that text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from services.execution.providers.base import Message

Persona = Mapping[str, Any]

PERSONA_FIELDS: dict[str, str] = {
    "description": "Description",
    "appearance": "Appearance",
    "personality": "Personality",
    "outfit": "Outfit",
}

STORY_LENGTHS: dict[str, str] = {
    "short": "about 150 to 250 words",
    "medium": "about 400 to 600 words",
    "long": "about 900 to 1,200 words",
}

_ONLY_THE_RESULT = "Reply with the result only: no preamble, no explanations, no quotes."


def describe_persona(persona: Persona) -> str:
    """One line per persona, so that every prompt describes a character the same way."""
    name = str(persona.get("name") or "").strip() or "Unnamed character"
    details = [
        f"{label}: {str(persona.get(key)).strip()}"
        for key, label in PERSONA_FIELDS.items()
        if str(persona.get(key) or "").strip()
    ]
    return f"{name} ({'; '.join(details)})" if details else name


def initial_prompt(
    *, text: str, personas: Sequence[Persona], scenes: Sequence[str]
) -> list[Message]:
    system = (
        "You write prompts for generative models. Rewrite the user's prompt so that it "
        "includes the characters and scenes below, describing each character exactly as given "
        "and keeping the user's intent and language. " + _ONLY_THE_RESULT
    )
    parts = [f"Prompt:\n{text}"]
    if personas:
        parts.append("Characters:\n" + "\n".join(f"- {describe_persona(p)}" for p in personas))
    if scenes:
        parts.append("Scenes:\n" + "\n".join(f"- {scene}" for scene in scenes))
    return [Message("system", system), Message("user", "\n\n".join(parts))]


def prompt_enhancer(*, text: str, notes: str | None = None) -> list[Message]:
    system = (
        "You improve prompts for generative models: make them clearer, more specific and more "
        "vivid, without changing what is asked for or the language it is written in. "
        + _ONLY_THE_RESULT
    )
    user = f"Prompt:\n{text}" + (f"\n\nFollow these notes:\n{notes}" if notes else "")
    return [Message("system", system), Message("user", user)]


def translator(*, text: str, language: str) -> list[Message]:
    system = (
        f"You are a professional translator. Translate the user's text into {language}, "
        "keeping its meaning, tone and formatting. " + _ONLY_THE_RESULT
    )
    return [Message("system", system), Message("user", text)]


def story_teller(
    *, text: str, personas: Sequence[Persona], length: str, notes: str | None = None
) -> list[Message]:
    size = STORY_LENGTHS.get(length, STORY_LENGTHS["medium"])
    system = (
        f"You are a creative storyteller. Write an engaging story of {size} from the user's "
        "idea, in the idea's language. Keep every character consistent with their description. "
        "Reply with the story only."
    )
    parts = [f"Idea:\n{text}"]
    if personas:
        parts.append("Characters:\n" + "\n".join(f"- {describe_persona(p)}" for p in personas))
    if notes:
        parts.append(f"Notes:\n{notes}")
    return [Message("system", system), Message("user", "\n\n".join(parts))]


def grammar_fix(*, text: str, style: str | None = None) -> list[Message]:
    system = (
        "You are a careful editor. Correct the grammar, spelling and punctuation of the user's "
        "text without changing its meaning or language."
        + (f" Write it in a {style} style." if style else " Keep its style.")
        + " "
        + _ONLY_THE_RESULT
    )
    return [Message("system", system), Message("user", text)]


def compressor(*, text: str, max_chars: int) -> list[Message]:
    system = (
        f"You shorten texts. Rewrite the user's text in at most {max_chars} characters, keeping "
        "its key meaning, names and language. " + _ONLY_THE_RESULT
    )
    return [Message("system", system), Message("user", text)]
