"""The catalog is public: the editor shows its palette before anyone signs in."""

from __future__ import annotations

from schema.context import Info
from schema.types.components import Component
from services.projects.catalog import require_component


async def components(info: Info) -> list[Component]:
    return [Component.from_spec(spec) for spec in info.context.backend.catalog.components]


async def component(info: Info, type: str) -> Component:
    return Component.from_spec(require_component(info.context.backend.catalog, type))
