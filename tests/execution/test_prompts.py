from __future__ import annotations

from services.execution import prompts
from services.execution.providers.base import Message

MIRA = {"name": "Mira", "description": "a cartographer", "outfit": "wool coat", "appearance": ""}


def test_describe_persona_lists_filled_fields() -> None:
    assert prompts.describe_persona(MIRA) == "Mira (Description: a cartographer; Outfit: wool coat)"


def test_describe_persona_without_details_is_its_name() -> None:
    assert prompts.describe_persona({"name": "Mira"}) == "Mira"


def test_initial_prompt_weaves_personas_and_scenes_into_the_text() -> None:
    messages = prompts.initial_prompt(
        text="Mira looks at the sea.", personas=[MIRA], scenes=["Setting: harbour."]
    )
    assert [m.role for m in messages] == ["system", "user"]
    assert messages[1].content == (
        "Prompt:\nMira looks at the sea.\n\n"
        "Characters:\n- Mira (Description: a cartographer; Outfit: wool coat)\n\n"
        "Scenes:\n- Setting: harbour."
    )


def test_prompt_enhancer_without_notes() -> None:
    messages = prompts.prompt_enhancer(text="a cat")
    assert messages[1] == Message("user", "Prompt:\na cat")


def test_prompt_enhancer_with_notes() -> None:
    messages = prompts.prompt_enhancer(text="a cat", notes="under 80 words")
    assert messages[1].content == "Prompt:\na cat\n\nFollow these notes:\nunder 80 words"


def test_translator_names_the_target_language() -> None:
    messages = prompts.translator(text="hello", language="French")
    assert "into French" in messages[0].content
    assert messages[1] == Message("user", "hello")


def test_story_teller_asks_for_the_length_and_uses_personas_and_notes() -> None:
    messages = prompts.story_teller(text="a voyage", personas=[MIRA], length="short", notes="funny")
    assert "about 150 to 250 words" in messages[0].content
    assert messages[1].content == (
        "Idea:\na voyage\n\nCharacters:\n- Mira (Description: a cartographer; Outfit: wool coat)"
        "\n\nNotes:\nfunny"
    )


def test_story_teller_unknown_length_means_medium() -> None:
    messages = prompts.story_teller(text="a voyage", personas=[], length="epic")
    assert "about 400 to 600 words" in messages[0].content


def test_grammar_fix_without_style_keeps_the_style() -> None:
    assert "Keep its style." in prompts.grammar_fix(text="teh cat")[0].content


def test_grammar_fix_with_style() -> None:
    messages = prompts.grammar_fix(text="teh cat", style="formal")
    assert "Write it in a formal style." in messages[0].content
    assert messages[1] == Message("user", "teh cat")


def test_compressor_states_the_limit() -> None:
    messages = prompts.compressor(text="long text", max_chars=120)
    assert "at most 120 characters" in messages[0].content
    assert messages[1] == Message("user", "long text")
