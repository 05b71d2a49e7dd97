"""What the engine asks of a provider, and what a provider can fail with.

Executors depend on these protocols only; the concrete clients (OpenAI-compatible, Anthropic,
Fireworks) live in sibling modules and are built once per provider by the registry.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True)
class Message:
    role: Role
    content: str


@dataclass(frozen=True)
class TextRequest:
    model: str
    messages: Sequence[Message]
    temperature: float | None = None
    max_tokens: int | None = None


@dataclass(frozen=True)
class ImageRequest:
    model: str
    prompt: str
    width: int
    height: int
    steps: int | None = None
    seed: int | None = None


@dataclass(frozen=True)
class GeneratedImage:
    data: bytes
    content_type: str  # e.g. "image/jpeg"
    width: int
    height: int
    seed: int | None


class ProviderError(Exception):
    """A provider call failed for good (after retries); the message is safe to show a user."""

    def __init__(self, provider_id: str, message: str) -> None:
        super().__init__(f"{provider_id}: {message}")
        self.provider_id = provider_id


class ProviderUnavailable(ProviderError):
    """The provider has no API key configured; the message names the missing setting."""


class TextProvider(Protocol):
    id: str

    def stream_text(self, request: TextRequest) -> AsyncGenerator[str, None]:
        """Yield the completion's text in pieces, as the provider streams it."""
        ...


class ImageProvider(Protocol):
    id: str

    async def generate_image(self, request: ImageRequest) -> GeneratedImage: ...
