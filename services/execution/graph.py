"""The editor's graph (React Flow's shape; ARCHITECTURE.md, "The graph") parsed into frozen dataclasses.

`parse_graph` checks the shape only: types of every member, size limits, unique ids. Whether the
graph can run (known node types, ports, kinds, required fields, cycles) is `validation`'s job,
because an editor must be able to save a half-drawn graph.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from services.execution.text import unstorable_reason

MAX_ID_LENGTH = 200


class GraphShapeError(ValueError):
    """The graph is malformed; `path` points at the offending member, e.g. `nodes[2].position.x`."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


@dataclass(frozen=True)
class GraphLimits:
    max_nodes: int
    max_edges: int
    max_text_length: int


@dataclass(frozen=True)
class Position:
    x: float
    y: float


@dataclass(frozen=True)
class Node:
    id: str
    type: str
    position: Position
    data: Mapping[str, Any]


@dataclass(frozen=True)
class Edge:
    id: str
    source: str
    target: str
    source_handle: str | None
    target_handle: str | None


@dataclass(frozen=True)
class Viewport:
    x: float
    y: float
    zoom: float


@dataclass(frozen=True)
class Graph:
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    viewport: Viewport

    def to_json(self) -> dict[str, Any]:
        return {
            "nodes": [
                {
                    "id": node.id,
                    "type": node.type,
                    "position": {"x": node.position.x, "y": node.position.y},
                    "data": dict(node.data),
                }
                for node in self.nodes
            ],
            "edges": [
                {
                    "id": edge.id,
                    "source": edge.source,
                    "target": edge.target,
                    "sourceHandle": edge.source_handle,
                    "targetHandle": edge.target_handle,
                }
                for edge in self.edges
            ],
            "viewport": {"x": self.viewport.x, "y": self.viewport.y, "zoom": self.viewport.zoom},
        }


EMPTY_GRAPH_JSON: dict[str, Any] = {"nodes": [], "edges": [], "viewport": {"x": 0, "y": 0, "zoom": 1}}


def parse_graph(data: object, limits: GraphLimits) -> Graph:
    root = _object(data, "graph")
    nodes = _list(root.get("nodes", []), "nodes", limits.max_nodes)
    edges = _list(root.get("edges", []), "edges", limits.max_edges)
    graph = Graph(
        nodes=tuple(_node(item, f"nodes[{i}]", limits) for i, item in enumerate(nodes)),
        edges=tuple(_edge(item, f"edges[{i}]") for i, item in enumerate(edges)),
        viewport=_viewport(root.get("viewport", EMPTY_GRAPH_JSON["viewport"])),
    )
    _require_unique_ids([node.id for node in graph.nodes], "nodes")
    _require_unique_ids([edge.id for edge in graph.edges], "edges")
    return graph


def _node(value: object, path: str, limits: GraphLimits) -> Node:
    node = _object(value, path)
    data = _object(node.get("data", {}), f"{path}.data")
    _check_texts(data, f"{path}.data", limits.max_text_length)
    return Node(
        id=_id(node.get("id"), f"{path}.id"),
        type=_id(node.get("type"), f"{path}.type"),
        position=_position(node.get("position"), f"{path}.position"),
        data=data,
    )


def _edge(value: object, path: str) -> Edge:
    edge = _object(value, path)
    return Edge(
        id=_id(edge.get("id"), f"{path}.id"),
        source=_id(edge.get("source"), f"{path}.source"),
        target=_id(edge.get("target"), f"{path}.target"),
        source_handle=_optional_id(edge.get("sourceHandle"), f"{path}.sourceHandle"),
        target_handle=_optional_id(edge.get("targetHandle"), f"{path}.targetHandle"),
    )


def _position(value: object, path: str) -> Position:
    position = _object(value, path)
    return Position(x=_number(position.get("x"), f"{path}.x"), y=_number(position.get("y"), f"{path}.y"))


def _viewport(value: object) -> Viewport:
    viewport = _object(value, "viewport")
    zoom = _number(viewport.get("zoom", 1), "viewport.zoom")
    if zoom <= 0:
        raise GraphShapeError("viewport.zoom", "must be greater than 0")
    return Viewport(
        x=_number(viewport.get("x", 0), "viewport.x"),
        y=_number(viewport.get("y", 0), "viewport.y"),
        zoom=zoom,
    )


def _object(value: object, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise GraphShapeError(path, f"must be an object, got {_json_type(value)}")
    return value


def _list(value: object, path: str, max_items: int) -> list[Any]:
    if not isinstance(value, list):
        raise GraphShapeError(path, f"must be a list, got {_json_type(value)}")
    if len(value) > max_items:
        raise GraphShapeError(path, f"has {len(value)} items; the limit is {max_items}")
    return value


def _id(value: object, path: str) -> str:
    if not isinstance(value, str) or not value:
        raise GraphShapeError(path, "must be a non-empty string")
    if len(value) > MAX_ID_LENGTH:
        raise GraphShapeError(path, f"must be at most {MAX_ID_LENGTH} characters long")
    problem = unstorable_reason(value)
    if problem is not None:
        raise GraphShapeError(path, problem)
    return value


def _optional_id(value: object, path: str) -> str | None:
    return None if value is None else _id(value, path)


def _number(value: object, path: str) -> float:
    # bool is an int in Python but not a number in JSON.
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise GraphShapeError(path, f"must be a finite number, got {_json_type(value)}")
    return float(value)


def _check_texts(value: object, path: str, max_length: int) -> None:
    """Every text a node holds fits the limit and can be stored (no NUL, no lone surrogate)."""
    if isinstance(value, str):
        if len(value) > max_length:
            raise GraphShapeError(path, f"is {len(value)} characters long; the limit is {max_length}")
        problem = unstorable_reason(value)
        if problem is not None:
            raise GraphShapeError(path, problem)
    elif isinstance(value, dict):
        for key, item in value.items():
            if unstorable_reason(key) is not None:
                raise GraphShapeError(path, "has a key with a NUL character or a lone surrogate")
            _check_texts(item, f"{path}.{key}", max_length)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_texts(item, f"{path}[{index}]", max_length)


def _require_unique_ids(ids: list[str], path: str) -> None:
    seen: set[str] = set()
    for index, item in enumerate(ids):
        if item in seen:
            raise GraphShapeError(f"{path}[{index}].id", f"duplicate id {item!r}")
        seen.add(item)


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__
