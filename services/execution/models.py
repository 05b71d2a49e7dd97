"""Which provider and model a node calls (ARCHITECTURE.md, "Models and providers").

The first of these that names a provider wins:
1. the node's override, `data.model = {"provider": ..., "model": ...}`;
2. the node type's default (`ApiConfig.default_provider` / `default_model`);
3. the flow's provider.
A missing model falls back to the chosen provider's default model from `PROVIDERS`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from services.execution.providers.known import PROVIDERS, ProviderInfo

if TYPE_CHECKING:
    from services.execution.catalog import ComponentSpec


class ModelResolutionError(Exception):
    """No usable provider for a node; the message says what to set."""


@dataclass(frozen=True, slots=True)
class ModelOverride:
    provider_id: str | None
    model: str | None


@dataclass(frozen=True, slots=True)
class ModelChoice:
    provider_id: str
    model: str


def parse_model_override(value: object) -> ModelOverride | None:
    """Read `data.model`: an object with `provider` and/or `model`, or a bare model id."""
    if value is None or value == "" or value == {}:
        return None
    if isinstance(value, str):
        return ModelOverride(provider_id=None, model=value.strip())
    if not isinstance(value, Mapping):
        raise ModelResolutionError("model must be an object with 'provider' and 'model'")
    provider_id = _optional_string(value.get("provider"), "model.provider")
    if provider_id is not None and provider_id not in PROVIDERS:
        raise ModelResolutionError(
            f"model.provider {provider_id!r} is not a known provider ({', '.join(PROVIDERS)})"
        )
    return ModelOverride(
        provider_id=provider_id, model=_optional_string(value.get("model"), "model.model")
    )


def resolve_model(
    *, data: Mapping[str, Any], spec: ComponentSpec, flow_provider_id: str | None
) -> ModelChoice:
    override = parse_model_override(data.get("model")) or ModelOverride(None, None)
    config = spec.api_config
    type_provider = config.default_provider if config else None
    provider_id = override.provider_id or type_provider or flow_provider_id
    if not provider_id:
        raise ModelResolutionError(
            "no provider chosen: choose the flow's provider or set this node's model"
        )
    provider = _provider(provider_id)
    _require_kind(provider, (config.provider_kind if config else None) or "text")
    return ModelChoice(
        provider_id=provider.id, model=override.model or _default_model(provider, spec)
    )


def _default_model(provider: ProviderInfo, spec: ComponentSpec) -> str:
    # The type's default model belongs to the type's default provider, not to any other.
    config = spec.api_config
    if config and config.default_model and config.default_provider == provider.id:
        return config.default_model
    return provider.default_model


def _provider(provider_id: str) -> ProviderInfo:
    provider = PROVIDERS.get(provider_id)
    if provider is None:
        raise ModelResolutionError(
            f"unknown provider {provider_id!r}; known providers: {', '.join(PROVIDERS)}"
        )
    return provider


def _require_kind(provider: ProviderInfo, kind: str) -> None:
    if provider.kind != kind:
        raise ModelResolutionError(
            f"provider {provider.id!r} generates {provider.kind}, but this node needs {kind}"
        )


def _optional_string(value: object, name: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ModelResolutionError(f"{name} must be a string")
    return value.strip() or None
