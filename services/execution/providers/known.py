"""The model providers the engine can call: ids, settings names and defaults, in one table;
and what a deployment says of each (its key and base URL)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ProviderKind = Literal["text", "image"]
ProviderProtocol = Literal["openai", "anthropic", "fireworks"]


@dataclass(frozen=True)
class ProviderSettings:
    """A provider as configured: available when its key is set."""

    api_key: str | None
    base_url: str | None


@dataclass(frozen=True)
class ProviderInfo:
    id: str
    name: str
    kind: ProviderKind
    protocol: ProviderProtocol
    # Settings are read as {setting_prefix}_API_KEY and {setting_prefix}_BASE_URL.
    setting_prefix: str
    default_base_url: str
    default_model: str


PROVIDERS: dict[str, ProviderInfo] = {
    provider.id: provider
    for provider in (
        ProviderInfo(
            id="mistral",
            name="Mistral",
            kind="text",
            protocol="openai",
            setting_prefix="MISTRAL",
            default_base_url="https://api.mistral.ai/v1",
            default_model="mistral-small-latest",
        ),
        ProviderInfo(
            id="glm",
            name="GLM (Zhipu AI)",
            kind="text",
            protocol="openai",
            setting_prefix="GLM",
            default_base_url="https://open.bigmodel.cn/api/paas/v4",
            default_model="glm-4-flash",
        ),
        ProviderInfo(
            id="openrouter",
            name="OpenRouter",
            kind="text",
            protocol="openai",
            setting_prefix="OPENROUTER",
            default_base_url="https://openrouter.ai/api/v1",
            default_model="openai/gpt-4o-mini",
        ),
        ProviderInfo(
            id="huggingface",
            name="Hugging Face",
            kind="text",
            protocol="openai",
            setting_prefix="HF",
            default_base_url="https://router.huggingface.co/v1",
            default_model="meta-llama/Llama-3.1-8B-Instruct",
        ),
        ProviderInfo(
            id="claude",
            name="Claude (Anthropic)",
            kind="text",
            protocol="anthropic",
            setting_prefix="ANTHROPIC",
            default_base_url="https://api.anthropic.com",
            default_model="claude-haiku-4-5",
        ),
        ProviderInfo(
            id="fireworks",
            name="Fireworks (Flux images)",
            kind="image",
            protocol="fireworks",
            setting_prefix="FIREWORKS",
            default_base_url="https://api.fireworks.ai/inference/v1",
            default_model="flux-1-schnell-fp8",
        ),
    )
}

TEXT_PROVIDER_IDS = tuple(p.id for p in PROVIDERS.values() if p.kind == "text")
