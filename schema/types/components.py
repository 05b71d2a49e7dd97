from __future__ import annotations

from enum import Enum

import strawberry
from strawberry.scalars import JSON

from services.execution.catalog import ApiConfig, ComponentSpec, FieldSpec, PortSpec


@strawberry.enum
class PortDirection(Enum):
    INPUT = "input"
    OUTPUT = "output"


@strawberry.type
class FieldOption:
    value: str
    label: str


@strawberry.type(description="A value the user sets on a node; stored under `key` in the node's data.")
class ComponentField:
    key: str
    label: str
    kind: str = strawberry.field(
        description="text, textarea, number, select, combobox (options are suggestions) or character."
    )
    default: JSON | None
    options: list[FieldOption] | None
    required: bool
    validation: JSON | None

    @classmethod
    def from_spec(cls, spec: FieldSpec) -> ComponentField:
        return cls(
            key=spec.key,
            label=spec.label,
            kind=spec.kind,
            default=spec.default,
            options=None
            if spec.options is None
            else [FieldOption(value=o.value, label=o.label) for o in spec.options],
            required=spec.required,
            validation=None if spec.validation is None else JSON(dict(spec.validation)),
        )


# No `id`: a port's key is unique only within its component type and direction, and clients that
# normalize by __typename + id (Apollo, Relay) would merge different ports sharing a key.
@strawberry.type(description="A handle on a node; `key` is what edges name as sourceHandle/targetHandle.")
class ComponentPort:
    key: str
    direction: PortDirection
    kind: str = strawberry.field(description="text, persona, scene or image.")
    multiple: bool = strawberry.field(description="Whether several edges may connect here.")
    label: str

    @classmethod
    def from_spec(cls, spec: PortSpec) -> ComponentPort:
        return cls(
            key=spec.key,
            direction=PortDirection(spec.direction),
            kind=spec.kind,
            multiple=spec.multiple,
            label=spec.label,
        )


@strawberry.type
class ComponentApiConfig:
    provider_call: str = strawberry.field(description="always, conditional or none.")
    provider_kind: str | None
    default_provider: str | None
    default_model: str | None
    temperature: float | None
    prompt_id: str | None

    @classmethod
    def from_spec(cls, spec: ApiConfig) -> ComponentApiConfig:
        return cls(
            provider_call=spec.provider_call,
            provider_kind=spec.provider_kind,
            default_provider=spec.default_provider,
            default_model=spec.default_model,
            temperature=spec.temperature,
            prompt_id=spec.prompt_id,
        )


@strawberry.type(description="A node type of the catalog.")
class Component:
    type: str
    name: str
    category: str
    description: str
    icon: str
    order: int
    is_executable: bool
    fields: list[ComponentField]
    ports: list[ComponentPort]
    api_config: ComponentApiConfig | None
    output_schema: JSON | None

    @classmethod
    def from_spec(cls, spec: ComponentSpec) -> Component:
        return cls(
            type=spec.type,
            name=spec.name,
            category=spec.category,
            description=spec.description,
            icon=spec.icon,
            order=spec.order,
            is_executable=spec.is_executable,
            fields=[ComponentField.from_spec(field) for field in spec.fields],
            ports=[ComponentPort.from_spec(port) for port in spec.ports],
            api_config=None if spec.api_config is None else ComponentApiConfig.from_spec(spec.api_config),
            output_schema=None if spec.output_schema is None else JSON(dict(spec.output_schema)),
        )
