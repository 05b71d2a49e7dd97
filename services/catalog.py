"""The component catalog as the rest of the code sees it: frozen, loaded once from the database.

The seeded tables are the single source of truth; this module reads them into plain dataclasses
that GraphQL serves and the execution engine validates graphs against.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from db.repositories.components import ComponentRepository
from services.errors import NotFound

PortDirection = Literal["input", "output"]
# Data kinds that travel on edges. persona and scene edges are adapters (SPEC section 5).
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
            raise NotFound("component", component_type)
        return component


async def load_catalog(session: AsyncSession) -> Catalog:
    repository = ComponentRepository(session)
    rows = await repository.list_all()
    ids = [row.id for row in rows]
    fields: defaultdict[Any, list[FieldSpec]] = defaultdict(list)
    for field in await repository.fields_for(ids):
        fields[field.component_id].append(
            FieldSpec(
                key=field.key,
                label=field.label,
                kind=field.kind,
                default=field.default,
                options=_options(field.options),
                required=field.required,
                validation=field.validation,
            )
        )
    ports: defaultdict[Any, list[PortSpec]] = defaultdict(list)
    for port in await repository.ports_for(ids):
        ports[port.component_id].append(
            PortSpec(
                key=port.key,
                direction="input" if port.direction == "input" else "output",
                kind=port.kind,
                multiple=port.multiple,
                label=port.label,
            )
        )
    api_configs = {
        config.component_id: ApiConfig(
            provider_call=config.provider_call,
            provider_kind=config.provider_kind,
            default_provider=config.default_provider,
            default_model=config.default_model,
            temperature=config.temperature,
            prompt_id=config.prompt_id,
        )
        for config in await repository.api_configs_for(ids)
    }
    output_schemas = {
        schema.component_id: schema.json_schema
        for schema in await repository.output_schemas_for(ids)
    }
    return Catalog(
        components=tuple(
            ComponentSpec(
                type=row.type,
                name=row.name,
                category=row.category,
                description=row.description,
                icon=row.icon,
                order=row.order,
                is_executable=row.is_executable,
                fields=tuple(fields[row.id]),
                ports=tuple(ports[row.id]),
                api_config=api_configs.get(row.id),
                output_schema=output_schemas.get(row.id),
            )
            for row in rows
        )
    )


def _options(raw: list[Any] | None) -> tuple[FieldOption, ...] | None:
    if raw is None:
        return None
    return tuple(FieldOption(value=str(item["value"]), label=str(item["label"])) for item in raw)
