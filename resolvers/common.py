from __future__ import annotations

from typing import TypeVar

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    SelectionSetNode,
)
from strawberry.types.unset import UnsetType

from schema.context import Info
from schema.strawberry_internals import resolve_info
from services.platform.pagination import PageRequest, page_request

Value = TypeVar("Value")


def given(value: Value | None | UnsetType) -> Value | None:
    """An optional input member: None when left out or null."""
    return None if isinstance(value, UnsetType) else value


def page_of(info: Info, first: int | None, after: str | None) -> PageRequest:
    return page_request(first, after, max_page_size=info.context.backend.settings.limits.max_page_size)


def selects(info: Info, path: tuple[str, ...]) -> bool:
    """Whether the field being resolved selects the field at `path` below it (by field names,
    through fragments; @skip and @include not considered)."""
    raw = resolve_info(info)
    return any(_selects(node.selection_set, path, raw.fragments) for node in raw.field_nodes)


def _selects(
    selection_set: SelectionSetNode | None, path: tuple[str, ...], fragments: dict[str, FragmentDefinitionNode]
) -> bool:
    if not path:
        return True
    for selection in selection_set.selections if selection_set is not None else ():
        if isinstance(selection, FieldNode):
            found = selection.name.value == path[0] and _selects(selection.selection_set, path[1:], fragments)
        elif isinstance(selection, InlineFragmentNode):
            found = _selects(selection.selection_set, path, fragments)
        else:
            assert isinstance(selection, FragmentSpreadNode)
            fragment = fragments.get(selection.name.value)
            found = fragment is not None and _selects(fragment.selection_set, path, fragments)
        if found:
            return True
    return False


def max_text_length(info: Info) -> int:
    return info.context.backend.settings.limits.max_text_length
