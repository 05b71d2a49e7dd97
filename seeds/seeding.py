"""Write the component catalog (services/execution/components.py) into its tables, idempotently.

The server never reads the tables back: it uses the definitions themselves. The tables are the
catalog's record in the database, for SQL and the data model (ARCHITECTURE.md, "The catalog").

Rows are matched by their natural keys (component type; field key; port direction and key) and
updated in place, so their ids survive re-seeding and nothing that refers to them breaks.
Fields and ports the catalog no longer lists are deleted. Components the catalog no longer lists
are left alone: removing a node type is a decision for a migration, not for a re-seed.
The caller owns the transaction: this only flushes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from db.models import (
    Component,
    ComponentApiConfig,
    ComponentField,
    ComponentOutputSchema,
    ComponentPort,
)
from db.repositories.components import ComponentRepository
from services.execution.catalog import ApiConfig, Catalog, ComponentSpec, FieldSpec, PortSpec
from services.execution.components import CATALOG


async def seed_catalog(session: AsyncSession, catalog: Catalog = CATALOG) -> None:
    repository = ComponentRepository(session)
    existing = {row.type: row for row in await repository.list_all()}
    for spec in catalog.components:
        component = existing.get(spec.type)
        if component is None:
            component = Component(type=spec.type)
            session.add(component)
        _assign(component, _component_values(spec))
        # The children need the component's id, which is only set on flush.
        await session.flush()
        await _seed_fields(session, repository, component, spec.fields)
        await _seed_ports(session, repository, component, spec.ports)
        await _seed_api_config(session, repository, component, spec.api_config)
        await _seed_output_schema(session, repository, component, spec.output_schema)
    await session.flush()


async def _seed_fields(
    session: AsyncSession,
    repository: ComponentRepository,
    component: Component,
    specs: Iterable[FieldSpec],
) -> None:
    rows = {row.key: row for row in await repository.fields_for([component.id])}
    for order, spec in enumerate(specs):
        row = rows.pop(spec.key, None)
        if row is None:
            row = ComponentField(component_id=component.id, key=spec.key)
            session.add(row)
        _assign(row, _field_values(spec, order))
    await _delete_all(session, rows.values())


async def _seed_ports(
    session: AsyncSession,
    repository: ComponentRepository,
    component: Component,
    specs: Iterable[PortSpec],
) -> None:
    rows = {(row.direction, row.key): row for row in await repository.ports_for([component.id])}
    for order, spec in enumerate(specs):
        row = rows.pop((spec.direction, spec.key), None)
        if row is None:
            row = ComponentPort(component_id=component.id, direction=spec.direction, key=spec.key)
            session.add(row)
        _assign(row, _port_values(spec, order))
    await _delete_all(session, rows.values())


async def _seed_api_config(
    session: AsyncSession,
    repository: ComponentRepository,
    component: Component,
    spec: ApiConfig | None,
) -> None:
    row = next(iter(await repository.api_configs_for([component.id])), None)
    if spec is None:
        await _delete_all(session, [] if row is None else [row])
        return
    if row is None:
        row = ComponentApiConfig(component_id=component.id)
        session.add(row)
    _assign(
        row,
        {
            "provider_call": spec.provider_call,
            "provider_kind": spec.provider_kind,
            "default_provider": spec.default_provider,
            "default_model": spec.default_model,
            "temperature": spec.temperature,
            "prompt_id": spec.prompt_id,
        },
    )


async def _seed_output_schema(
    session: AsyncSession,
    repository: ComponentRepository,
    component: Component,
    spec: Mapping[str, Any] | None,
) -> None:
    row = next(iter(await repository.output_schemas_for([component.id])), None)
    if spec is None:
        await _delete_all(session, [] if row is None else [row])
        return
    if row is None:
        row = ComponentOutputSchema(component_id=component.id)
        session.add(row)
    _assign(row, {"json_schema": dict(spec)})


def _component_values(spec: ComponentSpec) -> dict[str, Any]:
    return {
        "name": spec.name,
        "category": spec.category,
        "description": spec.description,
        "icon": spec.icon,
        "order": spec.order,
        "is_executable": spec.is_executable,
    }


def _field_values(spec: FieldSpec, order: int) -> dict[str, Any]:
    return {
        "label": spec.label,
        "kind": spec.kind,
        "default": spec.default,
        # Stored as a list of {"value", "label"} dicts.
        "options": None
        if spec.options is None
        else [{"value": option.value, "label": option.label} for option in spec.options],
        "required": spec.required,
        "validation": None if spec.validation is None else dict(spec.validation),
        "order": order,
    }


def _port_values(spec: PortSpec, order: int) -> dict[str, Any]:
    return {"kind": spec.kind, "multiple": spec.multiple, "label": spec.label, "order": order}


def _assign(row: object, values: Mapping[str, Any]) -> None:
    # Only touch what differs, so an unchanged catalog issues no UPDATE at all.
    for name, value in values.items():
        if getattr(row, name, None) != value:
            setattr(row, name, value)


async def _delete_all(session: AsyncSession, rows: Iterable[object]) -> None:
    for row in rows:
        await session.delete(row)
