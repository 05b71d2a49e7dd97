from __future__ import annotations

import pytest

from services.execution.catalog import ComponentSpec
from services.execution.components import CATALOG
from services.execution.models import ModelChoice, ModelResolutionError, resolve_model


def spec(component_type: str) -> ComponentSpec:
    component = CATALOG.get(component_type)
    assert component is not None
    return component


def test_node_override_wins() -> None:
    data = {"model": {"provider": "claude", "model": "claude-sonnet-4-5"}}
    choice = resolve_model(data=data, spec=spec("promptEnhancer"), flow_provider_id="mistral")
    assert choice == ModelChoice(provider_id="claude", model="claude-sonnet-4-5")


def test_override_without_model_uses_the_providers_default_model() -> None:
    data = {"model": {"provider": "glm"}}
    choice = resolve_model(data=data, spec=spec("promptEnhancer"), flow_provider_id="mistral")
    assert choice == ModelChoice(provider_id="glm", model="glm-4-flash")


def test_node_type_default_comes_before_the_flow_provider() -> None:
    choice = resolve_model(data={}, spec=spec("imageGenerator"), flow_provider_id="mistral")
    assert choice == ModelChoice(provider_id="fireworks", model="flux-1-schnell-fp8")


def test_model_only_override_keeps_the_type_default_provider() -> None:
    data = {"model": "flux-1-dev-fp8"}
    choice = resolve_model(data=data, spec=spec("imageGenerator"), flow_provider_id=None)
    assert choice == ModelChoice(provider_id="fireworks", model="flux-1-dev-fp8")


def test_flow_provider_with_its_default_model_comes_last() -> None:
    choice = resolve_model(data={}, spec=spec("storyTeller"), flow_provider_id="openrouter")
    assert choice == ModelChoice(provider_id="openrouter", model="openai/gpt-4o-mini")


def test_no_provider_anywhere_is_an_error_saying_what_to_set() -> None:
    with pytest.raises(ModelResolutionError) as raised:
        resolve_model(data={}, spec=spec("translator"), flow_provider_id=None)
    assert str(raised.value) == (
        "no provider chosen: choose the flow's provider or set this node's model"
    )


def test_unknown_flow_provider_is_an_error() -> None:
    with pytest.raises(ModelResolutionError, match="unknown provider 'skynet'"):
        resolve_model(data={}, spec=spec("translator"), flow_provider_id="skynet")


def test_image_provider_for_a_text_node_is_an_error() -> None:
    with pytest.raises(ModelResolutionError) as raised:
        resolve_model(data={}, spec=spec("grammarFix"), flow_provider_id="fireworks")
    assert str(raised.value) == "provider 'fireworks' generates image, but this node needs text"
