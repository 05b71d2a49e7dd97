"""Can this graph run? Checked against the catalog before any node starts (ARCHITECTURE.md, "The engine and its events").

`validate_graph` either raises `GraphValidationError` naming the first problem (node, edge,
port or field) or returns an `ExecutionPlan`: every executable node in topological order with
its component spec, its input edges by port (already in merge order) and its neighbours, so the
scheduler does no graph work while a run is under way.

Editor-only nodes (`note`, `group`: `is_executable` False) are left out of the plan. They have
no ports, so an edge to or from one is refused like any edge to a missing port.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from services.execution.graph import Edge, Graph, GraphLimits, Node
from services.execution.models import ModelResolutionError, parse_model_override

if TYPE_CHECKING:
    from services.execution.catalog import Catalog, ComponentSpec, FieldSpec, PortSpec

DEFAULT_LIMITS = GraphLimits(max_nodes=2_000, max_edges=10_000, max_text_length=100_000)
MAX_LISTED_OPTIONS = 10


class GraphValidationError(ValueError):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True, slots=True)
class InputEdge:
    edge_id: str
    source: str  # the upstream node's id
    source_port: str
    kind: str


@dataclass(frozen=True, slots=True)
class PlannedNode:
    node: Node
    spec: ComponentSpec
    # Input port key -> its edges, ordered by the source node's position (x, then y), then id.
    inputs: Mapping[str, tuple[InputEdge, ...]]
    upstream: tuple[str, ...]  # distinct node ids
    downstream: tuple[str, ...]  # distinct node ids


@dataclass(frozen=True)
class ExecutionPlan:
    # Executable nodes only, in a topological order (inputs before the nodes they feed).
    nodes: Mapping[str, PlannedNode]
    ignored: frozenset[str]  # editor-only nodes

    def descendants(self, node_id: str) -> set[str]:
        return _reachable(node_id, lambda n: self.nodes[n].downstream)


@dataclass(frozen=True, slots=True)
class _Wire:
    edge: Edge
    source: PortSpec
    target: PortSpec


def validate_graph(
    graph: Graph, catalog: Catalog, limits: GraphLimits = DEFAULT_LIMITS
) -> ExecutionPlan:
    _check_sizes(graph, limits)
    nodes = _index_nodes(graph)
    specs = _resolve_specs(graph, catalog)
    _check_unique_edge_ids(graph)
    wires = [_wire(edge, nodes, specs) for edge in graph.edges]
    _check_single_inputs(wires)
    executable = [node for node in graph.nodes if specs[node.id].is_executable]
    for node in executable:
        _check_fields(node, specs[node.id])
    order = _topological_order(executable, wires)
    return _plan(order, nodes, specs, wires)


# --- graph-wide checks --------------------------------------------------------------------------


def _check_sizes(graph: Graph, limits: GraphLimits) -> None:
    if len(graph.nodes) > limits.max_nodes:
        raise GraphValidationError(
            f"the graph has {len(graph.nodes)} nodes; the limit is {limits.max_nodes}"
        )
    if len(graph.edges) > limits.max_edges:
        raise GraphValidationError(
            f"the graph has {len(graph.edges)} edges; the limit is {limits.max_edges}"
        )


def _index_nodes(graph: Graph) -> dict[str, Node]:
    nodes: dict[str, Node] = {}
    for node in graph.nodes:
        if node.id in nodes:
            raise GraphValidationError(f"duplicate node id {node.id!r}")
        nodes[node.id] = node
    return nodes


def _check_unique_edge_ids(graph: Graph) -> None:
    seen: set[str] = set()
    for edge in graph.edges:
        if edge.id in seen:
            raise GraphValidationError(f"duplicate edge id {edge.id!r}")
        seen.add(edge.id)


def _resolve_specs(graph: Graph, catalog: Catalog) -> dict[str, ComponentSpec]:
    by_type = {component.type: component for component in catalog.components}
    specs: dict[str, ComponentSpec] = {}
    for node in graph.nodes:
        spec = by_type.get(node.type)
        if spec is None:
            raise GraphValidationError(f"node {node.id!r} has unknown type {node.type!r}")
        specs[node.id] = spec
    return specs


# --- edges and ports ----------------------------------------------------------------------------


def _wire(edge: Edge, nodes: Mapping[str, Node], specs: Mapping[str, ComponentSpec]) -> _Wire:
    source = _endpoint(edge, nodes, edge.source, "source")
    target = _endpoint(edge, nodes, edge.target, "target")
    wire = _Wire(
        edge=edge,
        source=_port(edge, source, specs[source.id], "output", edge.source_handle),
        target=_port(edge, target, specs[target.id], "input", edge.target_handle),
    )
    if wire.source.kind != wire.target.kind:
        raise GraphValidationError(
            f"edge {edge.id!r} connects {wire.source.kind} output {edge.source}.{wire.source.key} "
            f"to {wire.target.kind} input {edge.target}.{wire.target.key}; the kinds must match"
        )
    return wire


def _endpoint(edge: Edge, nodes: Mapping[str, Node], node_id: str, end: str) -> Node:
    node = nodes.get(node_id)
    if node is None:
        raise GraphValidationError(f"edge {edge.id!r}: {end} node {node_id!r} does not exist")
    return node


def _port(
    edge: Edge, node: Node, spec: ComponentSpec, direction: str, handle: str | None
) -> PortSpec:
    if not spec.is_executable:
        raise GraphValidationError(
            f"edge {edge.id!r}: node {node.id!r} is a {node.type}, which takes no connections"
        )
    ports = [port for port in spec.ports if port.direction == direction]
    keys = ", ".join(port.key for port in ports) or "none"
    handle_name = "sourceHandle" if direction == "output" else "targetHandle"
    if handle is None:
        # React Flow omits the handle when a node has a single one on that side.
        if len(ports) == 1:
            return ports[0]
        raise GraphValidationError(
            f"edge {edge.id!r}: {handle_name} is missing and node {node.id!r} ({node.type}) "
            f"has {len(ports)} {direction} ports ({keys})"
        )
    for port in ports:
        if port.key == handle:
            return port
    raise GraphValidationError(
        f"edge {edge.id!r}: node {node.id!r} ({node.type}) has no {direction} port {handle!r}; "
        f"its {direction} ports: {keys}"
    )


def _check_single_inputs(wires: list[_Wire]) -> None:
    edges_by_input: dict[tuple[str, str], list[str]] = {}
    for wire in wires:
        if not wire.target.multiple:
            edges_by_input.setdefault((wire.edge.target, wire.target.key), []).append(wire.edge.id)
    for (node_id, port), edge_ids in edges_by_input.items():
        if len(edge_ids) > 1:
            raise GraphValidationError(
                f"node {node_id!r}: input port {port!r} accepts one edge, got {len(edge_ids)} "
                f"({', '.join(edge_ids)})"
            )


# --- fields -------------------------------------------------------------------------------------


def _check_fields(node: Node, spec: ComponentSpec) -> None:
    for field in spec.fields:
        value = node.data.get(field.key)
        if _is_blank(value):
            if field.required and _is_blank(field.default):
                raise GraphValidationError(
                    f"node {node.id!r} ({node.type}): required field {field.key!r} is missing"
                )
            continue
        problem = FIELD_CHECKS.get(field.kind, _no_check)(field, value)
        if problem:
            raise GraphValidationError(
                f"node {node.id!r} ({node.type}): field {field.key!r} {problem}"
            )
    # Any node may override its model, whether or not its type lists a model field.
    if spec.field("model") is None and "model" in node.data:
        problem = _check_model(None, node.data["model"])
        if problem:
            raise GraphValidationError(f"node {node.id!r} ({node.type}): field 'model' {problem}")


def _is_blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _check_text(field: FieldSpec | None, value: object) -> str | None:
    if not isinstance(value, str):
        return f"must be a string, got {type(value).__name__}"
    max_length = (field.validation or {}).get("maxLength") if field else None
    if max_length is not None and len(value) > max_length:
        return f"is {len(value)} characters long; the limit is {max_length}"
    return None


def _check_select(field: FieldSpec, value: object) -> str | None:
    allowed = [option.value for option in field.options or ()]
    if value in allowed:
        return None
    listed = ", ".join(allowed[:MAX_LISTED_OPTIONS])
    more = (
        f" and {len(allowed) - MAX_LISTED_OPTIONS} more"
        if len(allowed) > MAX_LISTED_OPTIONS
        else ""
    )
    return f"must be one of {listed}{more}; got {value!r}"


def _check_number(field: FieldSpec, value: object) -> str | None:
    # bool is an int in Python but not a number in JSON.
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"must be a number, got {value!r}"
    rules = field.validation or {}
    if "min" in rules and value < rules["min"]:
        return f"must be at least {rules['min']}, got {value}"
    if "max" in rules and value > rules["max"]:
        return f"must be at most {rules['max']}, got {value}"
    if rules.get("multipleOf") and value % rules["multipleOf"]:
        return f"must be a multiple of {rules['multipleOf']}, got {value}"
    return None


def _check_model(field: FieldSpec | None, value: object) -> str | None:
    try:
        parse_model_override(value)
    except ModelResolutionError as error:
        return f"is not a valid model override: {error}"
    return None


def _no_check(field: FieldSpec, value: object) -> str | None:
    return None


# Field kind (see services/execution/components.py) -> its check; a kind not listed accepts any value.
FIELD_CHECKS: dict[str, Callable[[Any, object], str | None]] = {
    "text": _check_text,
    "textarea": _check_text,
    "combobox": _check_text,
    "character": _check_text,
    "select": _check_select,
    "number": _check_number,
    "model": _check_model,
}


# --- order and plan -----------------------------------------------------------------------------


def _topological_order(nodes: list[Node], wires: list[_Wire]) -> list[str]:
    successors: dict[str, list[str]] = {node.id: [] for node in nodes}
    indegree = dict.fromkeys(successors, 0)
    for wire in wires:
        successors[wire.edge.source].append(wire.edge.target)
        indegree[wire.edge.target] += 1
    ready = deque(node_id for node_id, degree in indegree.items() if degree == 0)
    order: list[str] = []
    while ready:
        node_id = ready.popleft()
        order.append(node_id)
        for target in successors[node_id]:
            indegree[target] -= 1
            if indegree[target] == 0:
                ready.append(target)
    if len(order) < len(successors):
        raise GraphValidationError(
            f"the graph has a cycle: {_describe_cycle(nodes, wires, set(order))}"
        )
    return order


def _describe_cycle(nodes: list[Node], wires: list[_Wire], ordered: set[str]) -> str:
    # Every node Kahn's algorithm left behind has a predecessor that was left behind too, so
    # walking predecessors from any of them must come round to a node already seen.
    left = [node.id for node in nodes if node.id not in ordered]
    predecessor = {
        w.edge.target: w.edge.source
        for w in wires
        if w.edge.source not in ordered and w.edge.target not in ordered
    }
    path: list[str] = []
    seen: dict[str, int] = {}
    node_id = left[0]
    while node_id not in seen:
        seen[node_id] = len(path)
        path.append(node_id)
        node_id = predecessor[node_id]
    cycle = path[seen[node_id] :][::-1]
    # Start from the node that comes first in the graph, so the message is stable.
    position = {node_id: index for index, node_id in enumerate(left)}
    first = min(range(len(cycle)), key=lambda i: position[cycle[i]])
    cycle = cycle[first:] + cycle[:first]
    return " -> ".join([*cycle, cycle[0]])


def _plan(
    order: list[str],
    nodes: Mapping[str, Node],
    specs: Mapping[str, ComponentSpec],
    wires: list[_Wire],
) -> ExecutionPlan:
    inputs: dict[str, dict[str, list[InputEdge]]] = {node_id: {} for node_id in order}
    downstream: dict[str, dict[str, None]] = {node_id: {} for node_id in order}
    for wire in wires:
        edge = wire.edge
        inputs[edge.target].setdefault(wire.target.key, []).append(
            InputEdge(
                edge_id=edge.id,
                source=edge.source,
                source_port=wire.source.key,
                kind=wire.source.kind,
            )
        )
        downstream[edge.source][edge.target] = None

    def merge_order(item: InputEdge) -> tuple[float, float, str, str]:
        position = nodes[item.source].position
        return (position.x, position.y, item.source, item.edge_id)

    planned: dict[str, PlannedNode] = {}
    for node_id in order:
        ports = {
            port: tuple(sorted(edges, key=merge_order)) for port, edges in inputs[node_id].items()
        }
        planned[node_id] = PlannedNode(
            node=nodes[node_id],
            spec=specs[node_id],
            inputs=ports,
            upstream=tuple(dict.fromkeys(e.source for edges in ports.values() for e in edges)),
            downstream=tuple(downstream[node_id]),
        )
    ignored = frozenset(node_id for node_id in nodes if not specs[node_id].is_executable)
    return ExecutionPlan(nodes=planned, ignored=ignored)


def _reachable(start: str, neighbours: Callable[[str], tuple[str, ...]]) -> set[str]:
    found: set[str] = set()
    stack = list(neighbours(start))
    while stack:
        node_id = stack.pop()
        if node_id not in found:
            found.add(node_id)
            stack.extend(neighbours(node_id))
    return found
