from __future__ import annotations

from typing import TypeVar

from strawberry.types.unset import UnsetType

from schema.context import Info
from services.pagination import PageRequest, page_request

Value = TypeVar("Value")


def given(value: Value | None | UnsetType) -> Value | None:
    """An optional input member: None when left out or null."""
    return None if isinstance(value, UnsetType) else value


def page_of(info: Info, first: int | None, after: str | None) -> PageRequest:
    return page_request(first, after, max_page_size=info.context.backend.settings.limits.max_page_size)


def max_text_length(info: Info) -> int:
    return info.context.backend.settings.limits.max_text_length
