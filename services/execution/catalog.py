"""The component catalog as the engine and GraphQL see it: frozen dataclasses.

The definitions are in `services.execution.components` (the one source: the server uses them as
they are, and `seeds.seeding` writes them into the catalog tables); the engine validates graphs
against them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal


class UnknownComponent(LookupError):
    """No component type of that name in the catalog."""

    def __init__(self, component_type: str) -> None:
        super().__init__(f"component {component_type} not found")
        self.component_type = component_type


PortDirection = Literal["input", "output"]
# Data kinds that travel on edges. persona and scene edges are adapters (ARCHITECTURE.md, "The graph").
PORT_KINDS = ("text", "persona", "scene", "image")
ADAPTER_PORT_KINDS = ("persona", "scene")


@dataclass(frozen=True)
class FieldOption:
    value: str
    label: str


@dataclass(frozen=True)
class FieldSpec:
    key: str
    label: str
    kind: str
    default: Any
    options: tuple[FieldOption, ...] | None
    required: bool
    validation: Mapping[str, Any] | None


@dataclass(frozen=True)
class PortSpec:
    key: str
    direction: PortDirection
    kind: str
    multiple: bool
    label: str


@dataclass(frozen=True)
class ApiConfig:
    # "always", "conditional" (initialPrompt with adapters, compressor over its limit) or "none".
    provider_call: str
    provider_kind: str | None
    default_provider: str | None
    default_model: str | None
    temperature: float | None
    prompt_id: str | None


@dataclass(frozen=True)
class ComponentSpec:
    type: str
    name: str
    category: str
    description: str
    icon: str
    order: int
    is_executable: bool
    fields: tuple[FieldSpec, ...]
    ports: tuple[PortSpec, ...]
    api_config: ApiConfig | None
    output_schema: Mapping[str, Any] | None

    def port(self, direction: PortDirection, key: str) -> PortSpec | None:
        return next(
            (port for port in self.ports if port.direction == direction and port.key == key), None
        )

    def field(self, key: str) -> FieldSpec | None:
        return next((field for field in self.fields if field.key == key), None)


@dataclass(frozen=True)
class Catalog:
    components: tuple[ComponentSpec, ...]

    def get(self, component_type: str) -> ComponentSpec | None:
        return next((c for c in self.components if c.type == component_type), None)

    def require(self, component_type: str) -> ComponentSpec:
        component = self.get(component_type)
        if component is None:
            raise UnknownComponent(component_type)
        return component
