"""Text that every store and socket can carry: valid Unicode without NUL characters.

Provider replies are untrusted: JSON lets them escape a lone surrogate (`"\\ud800"`) or a NUL,
which PostgreSQL refuses and UTF-8 cannot encode. They become U+FFFD, as a decoder shows
bytes it cannot read.
"""

from __future__ import annotations

REPLACEMENT = "\ufffd"


def storable(text: str) -> str:
    if "\x00" in text:
        text = text.replace("\x00", REPLACEMENT)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        # Paired surrogates survive the round trip as the character they encode.
        text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text


def unstorable_reason(text: str) -> str | None:
    """Why a client's text cannot be stored, or None."""
    if "\x00" in text:
        return "must not contain NUL characters"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "must be valid Unicode (it holds a lone surrogate)"
    return None
