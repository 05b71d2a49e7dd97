"""Stored results of identical nodes, for partial re-execution (ARCHITECTURE.md, "The engine and its events").

Two nodes are identical when they have the same type, the same field values and the same
inputs, and, for a node that may call a provider, the same flow provider (the model it resolves
to can depend on it). `cache_key` hashes exactly that; the runner puts the key of every node it
runs in `NodeCompleted.cache_key`, the server stores it with the node's result, and a later
partial run asks the `ResultCache` for it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any, Protocol

from services.execution.executors.context import NodeInputs


class ResultCache(Protocol):
    async def lookup(self, cache_key: str) -> Mapping[str, Any] | None:
        """The stored output of a completed node with this key, or None."""
        ...


def cache_key(
    *, node_type: str, data: Mapping[str, Any], inputs: NodeInputs, provider_id: str | None
) -> str:
    document = {
        "type": node_type,
        "data": data,
        "inputs": inputs.to_json(),
        "provider": provider_id,
    }
    encoded = json.dumps(
        document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    )
    return hashlib.sha256(encoded.encode()).hexdigest()
