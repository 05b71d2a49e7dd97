"""Reads the seeded catalog tables into the engine's catalog dataclasses, once at start-up."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from db.repositories.components import ComponentRepository
from services.errors import NotFound
from services.execution.catalog import (
    ApiConfig,
    Catalog,
    ComponentSpec,
    FieldOption,
    FieldSpec,
    PortSpec,
    UnknownComponent,
)


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


def require_component(catalog: Catalog, component_type: str) -> ComponentSpec:
    """The component of that type, or NotFound for the client."""
    try:
        return catalog.require(component_type)
    except UnknownComponent:
        raise NotFound("component", component_type) from None
