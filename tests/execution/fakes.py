"""In-process stand-ins for what the engine calls: providers, media store, characters, cache."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncGenerator, Callable, Mapping
from typing import Any

from services.execution.providers.base import (
    GeneratedImage,
    ImageRequest,
    ProviderUnavailable,
    TextRequest,
)
from services.execution.providers.known import PROVIDERS
from tests.waiting import stall


def echo(request: TextRequest) -> str:
    """A deterministic reply that shows what the node asked for."""
    return f"echo: {request.messages[-1].content}"


class FakeTextProvider:
    """Streams a deterministic reply word by word; can wait first, fail, and records calls."""

    def __init__(
        self,
        provider_id: str = "mistral",
        *,
        reply: Callable[[TextRequest], str] | str = echo,
        delay: float = 0.0,
        error: Exception | None = None,
    ) -> None:
        self.id = provider_id
        self.reply = reply
        self.delay = delay
        self.error = error
        self.requests: list[TextRequest] = []
        self.started = asyncio.Event()
        self.cancelled = 0

    @property
    def calls(self) -> int:
        return len(self.requests)

    async def stream_text(self, request: TextRequest) -> AsyncGenerator[str, None]:
        self.requests.append(request)
        self.started.set()
        try:
            if self.delay:
                await stall(self.delay)
            if self.error is not None:
                raise self.error
            text = self.reply(request) if callable(self.reply) else self.reply
            for piece in re.findall(r"\S+\s*", text):
                yield piece
        except asyncio.CancelledError:
            self.cancelled += 1
            raise


class FakeImageProvider:
    def __init__(self, provider_id: str = "fireworks") -> None:
        self.id = provider_id
        self.requests: list[ImageRequest] = []

    async def generate_image(self, request: ImageRequest) -> GeneratedImage:
        self.requests.append(request)
        return GeneratedImage(
            data=f"image of {request.prompt}".encode(),
            content_type="image/png",
            width=request.width,
            height=request.height,
            seed=request.seed if request.seed is not None else 7,
        )


class FakeProviders:
    """The registry's interface; a provider not given is unavailable, as with no API key."""

    def __init__(self, *providers: FakeTextProvider | FakeImageProvider) -> None:
        self._providers = {provider.id: provider for provider in providers}

    def available(self, provider_id: str) -> bool:
        return provider_id in self._providers

    def text(self, provider_id: str) -> FakeTextProvider:
        provider = self._get(provider_id)
        assert isinstance(provider, FakeTextProvider)
        return provider

    def image(self, provider_id: str) -> FakeImageProvider:
        provider = self._get(provider_id)
        assert isinstance(provider, FakeImageProvider)
        return provider

    def _get(self, provider_id: str) -> FakeTextProvider | FakeImageProvider:
        if provider_id not in self._providers:
            setting = f"{PROVIDERS[provider_id].setting_prefix}_API_KEY"
            raise ProviderUnavailable(provider_id, f"not configured: set {setting}")
        return self._providers[provider_id]


class FakeMediaStore:
    def __init__(self) -> None:
        self.saved: dict[str, tuple[bytes, str]] = {}

    async def save(self, data: bytes, content_type: str) -> str:
        url = f"/media/{len(self.saved) + 1}.png"
        self.saved[url] = (data, content_type)
        return url


class FakeCharacters:
    def __init__(self, characters: Mapping[str, Mapping[str, Any]]) -> None:
        self.characters = characters

    async def lookup(self, character_id: str) -> Mapping[str, Any] | None:
        return self.characters.get(character_id)


class FakeResultCache:
    def __init__(self, stored: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        self.stored = dict(stored or {})
        self.lookups: list[str] = []

    async def lookup(self, cache_key: str) -> Mapping[str, Any] | None:
        self.lookups.append(cache_key)
        return self.stored.get(cache_key)
