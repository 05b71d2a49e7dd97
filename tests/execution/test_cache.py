from __future__ import annotations

from services.execution.cache import cache_key
from services.execution.executors import NodeInputs


def key(**overrides: object) -> str:
    arguments: dict[str, object] = {
        "node_type": "grammarFix",
        "data": {"style": "formal", "label": "x"},
        "inputs": NodeInputs(texts=("teh cat",)),
        "provider_id": "mistral",
    }
    arguments.update(overrides)
    return cache_key(**arguments)  # type: ignore[arg-type]


def test_cache_key_is_stable_and_ignores_key_order() -> None:
    assert key() == key(data={"label": "x", "style": "formal"})
    assert len(key()) == 64


def test_cache_key_changes_with_type_config_inputs_and_provider() -> None:
    assert (
        len(
            {
                key(),
                key(node_type="promptEnhancer"),
                key(data={"style": "casual", "label": "x"}),
                key(inputs=NodeInputs(texts=("the cat",))),
                key(provider_id="claude"),
            }
        )
        == 5
    )
