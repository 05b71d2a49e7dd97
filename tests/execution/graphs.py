"""Small builders for graphs in the editor's JSON shape, parsed as the server parses them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from services.execution.graph import Graph, parse_graph
from services.execution.validation import DEFAULT_LIMITS

# The example flows in the editor's shape, shared with the docs and the `run` command.
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def node(
    node_id: str, node_type: str, *, x: float = 0, y: float = 0, **data: Any
) -> dict[str, Any]:
    return {"id": node_id, "type": node_type, "position": {"x": x, "y": y}, "data": data}


def edge(
    source: str, target: str, source_handle: str | None = "text", target_handle: str | None = "text"
) -> dict[str, Any]:
    return {
        "id": f"{source}.{source_handle}->{target}.{target_handle}",
        "source": source,
        "target": target,
        "sourceHandle": source_handle,
        "targetHandle": target_handle,
    }


def graph(nodes: list[dict[str, Any]], edges: list[dict[str, Any]] | None = None) -> Graph:
    return parse_graph({"nodes": nodes, "edges": edges or []}, DEFAULT_LIMITS)


def example(name: str) -> Graph:
    return parse_graph(json.loads((EXAMPLES / name).read_text()), DEFAULT_LIMITS)
