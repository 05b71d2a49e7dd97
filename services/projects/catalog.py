"""The catalog as clients ask for it: a component by its type."""

from __future__ import annotations

from services.errors import NotFound
from services.execution.catalog import Catalog, ComponentSpec, UnknownComponent


def require_component(catalog: Catalog, component_type: str) -> ComponentSpec:
    """The component of that type, or NotFound for the client."""
    try:
        return catalog.require(component_type)
    except UnknownComponent:
        raise NotFound("component", component_type) from None
