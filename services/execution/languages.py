"""Language codes the translator accepts, with the English names its prompt asks for.

Models translate more reliably to "French" than to "fr", so the prompt uses the name; the
editor stores the code (ISO 639-1) in the node's `targetLanguage` field.
"""

from __future__ import annotations

LANGUAGES: dict[str, str] = {
    "en": "English",
    "fr": "French",
    "de": "German",
    "es": "Spanish",
    "it": "Italian",
    "pt": "Portuguese",
    "nl": "Dutch",
    "pl": "Polish",
    "ru": "Russian",
    "uk": "Ukrainian",
    "tr": "Turkish",
    "ar": "Arabic",
    "he": "Hebrew",
    "hi": "Hindi",
    "bn": "Bengali",
    "zh": "Chinese",
    "ja": "Japanese",
    "ko": "Korean",
    "vi": "Vietnamese",
    "th": "Thai",
    "id": "Indonesian",
    "ms": "Malay",
    "sv": "Swedish",
    "no": "Norwegian",
    "da": "Danish",
    "fi": "Finnish",
    "cs": "Czech",
    "el": "Greek",
    "hu": "Hungarian",
    "ro": "Romanian",
    "fa": "Persian",
    "ur": "Urdu",
}


def language_name(code: str) -> str | None:
    """The English name of a language code, or None when the code is not in the table."""
    return LANGUAGES.get(code.strip().lower())
