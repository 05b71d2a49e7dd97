"""One client per configured provider, built on first use and shared by every run.

Each provider has its own semaphore, so one slow or rate-limited provider cannot use up the
calls in flight that the others need.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol, TypeVar

from services.execution.providers.base import (
    ImageProvider,
    ProviderError,
    ProviderUnavailable,
    TextProvider,
)
from services.execution.providers.fireworks import FireworksProvider
from services.execution.providers.known import (
    PROVIDERS,
    ProviderInfo,
    ProviderKind,
    ProviderProtocol,
    ProviderSettings,
)
from services.execution.providers.retry import RetryPolicy


class ClosableTextProvider(TextProvider, Protocol):
    async def aclose(self) -> None: ...


class ClosableImageProvider(ImageProvider, Protocol):
    async def aclose(self) -> None: ...


C_co = TypeVar("C_co", covariant=True)


class ClientFactory(Protocol[C_co]):
    def __call__(
        self,
        info: ProviderInfo,
        *,
        api_key: str,
        base_url: str,
        policy: RetryPolicy,
        concurrency: int,
    ) -> C_co: ...


def _openai_client(
    info: ProviderInfo, *, api_key: str, base_url: str, policy: RetryPolicy, concurrency: int
) -> ClosableTextProvider:
    # The SDKs take a second or two to import: only a process that calls a provider pays.
    from services.execution.providers.openai_compatible import OpenAICompatibleProvider

    return OpenAICompatibleProvider(info, api_key=api_key, base_url=base_url, policy=policy, concurrency=concurrency)


def _anthropic_client(
    info: ProviderInfo, *, api_key: str, base_url: str, policy: RetryPolicy, concurrency: int
) -> ClosableTextProvider:
    from services.execution.providers.anthropic_messages import AnthropicProvider

    return AnthropicProvider(info, api_key=api_key, base_url=base_url, policy=policy, concurrency=concurrency)


TEXT_CLIENTS: dict[ProviderProtocol, ClientFactory[ClosableTextProvider]] = {
    "openai": _openai_client,
    "anthropic": _anthropic_client,
}
IMAGE_CLIENTS: dict[ProviderProtocol, ClientFactory[ClosableImageProvider]] = {
    "fireworks": FireworksProvider,
}


class ProviderRegistry:
    def __init__(
        self,
        settings: Mapping[str, ProviderSettings],
        *,
        concurrency: int,
        policy: RetryPolicy,
        catalog: Mapping[str, ProviderInfo] = PROVIDERS,
    ) -> None:
        self._settings = settings
        self._concurrency = concurrency
        self._policy = policy
        self._catalog = catalog
        self._text: dict[str, ClosableTextProvider] = {}
        self._image: dict[str, ClosableImageProvider] = {}

    @classmethod
    def from_settings(
        cls,
        settings: Mapping[str, ProviderSettings],
        *,
        concurrency: int = 32,
        policy: RetryPolicy | None = None,
    ) -> ProviderRegistry:
        return cls(settings, concurrency=concurrency, policy=policy or RetryPolicy())

    def available(self, provider_id: str) -> bool:
        settings = self._settings.get(provider_id)
        return provider_id in self._catalog and settings is not None and bool(settings.api_key)

    def prepare(self) -> None:
        """Build every configured provider's client now: a server pays the SDKs' import time
        at start-up instead of stalling its event loop on the first call."""
        for provider_id, info in self._catalog.items():
            if not self.available(provider_id):
                continue
            if info.kind == "text":
                self.text(provider_id)
            else:
                self.image(provider_id)

    def text(self, provider_id: str) -> TextProvider:
        if provider_id not in self._text:
            self._text[provider_id] = self._build(provider_id, "text", TEXT_CLIENTS)
        return self._text[provider_id]

    def image(self, provider_id: str) -> ImageProvider:
        if provider_id not in self._image:
            self._image[provider_id] = self._build(provider_id, "image", IMAGE_CLIENTS)
        return self._image[provider_id]

    async def aclose(self) -> None:
        clients: list[ClosableTextProvider | ClosableImageProvider] = [
            *self._text.values(),
            *self._image.values(),
        ]
        self._text, self._image = {}, {}
        for client in clients:
            await client.aclose()

    def _build(
        self,
        provider_id: str,
        kind: ProviderKind,
        factories: Mapping[ProviderProtocol, ClientFactory[C_co]],
    ) -> C_co:
        info = self._catalog.get(provider_id)
        if info is None:
            raise ProviderError(provider_id, "unknown provider")
        if info.kind != kind or info.protocol not in factories:
            raise ProviderError(provider_id, f"does not generate {kind}s")
        settings = self._settings.get(provider_id)
        if settings is None or not settings.api_key:
            raise ProviderUnavailable(provider_id, f"{info.setting_prefix}_API_KEY is not set")
        return factories[info.protocol](
            info,
            api_key=settings.api_key,
            base_url=settings.base_url or info.default_base_url,
            policy=self._policy,
            concurrency=self._concurrency,
        )
