"""Which unique constraint a refused write broke, read from the database's error."""

from __future__ import annotations

import re

from sqlalchemy import Index, UniqueConstraint
from sqlalchemy.exc import IntegrityError

from db.models import Base

# SQLite names the columns, or the index for an index on an expression, never the constraint.
_SQLITE_UNIQUE = re.compile(r"UNIQUE constraint failed: (?:index '(?P<index>[^']+)'|(?P<columns>.+))$")


def _unique_columns() -> tuple[dict[str, tuple[str, ...]], dict[tuple[str, ...], tuple[str, ...]]]:
    """Unique constraints and indexes by name, and by their table-qualified column list."""
    by_name: dict[str, tuple[str, ...]] = {}
    by_qualified: dict[tuple[str, ...], tuple[str, ...]] = {}
    for table in Base.metadata.tables.values():
        uniques: list[UniqueConstraint | Index] = [
            constraint for constraint in table.constraints if isinstance(constraint, UniqueConstraint)
        ]
        uniques += [index for index in table.indexes if index.unique]
        for unique in uniques:
            # An index on an expression, e.g. lower(username), says which column it guards.
            columns = tuple(column.name for column in unique.columns) or tuple(unique.info.get("guards", ()))
            by_name[str(unique.name)] = columns
            by_qualified[tuple(f"{table.name}.{column}" for column in columns)] = columns
    return by_name, by_qualified


_BY_NAME, _BY_QUALIFIED = _unique_columns()


def violated_unique_columns(error: IntegrityError) -> tuple[str, ...] | None:
    """The columns of the unique constraint the write broke; None for any other integrity error."""
    driver_error = getattr(error.orig, "orig", None) or getattr(error.orig, "__cause__", None)
    constraint = getattr(driver_error, "constraint_name", None)  # asyncpg
    if isinstance(constraint, str):
        return _BY_NAME.get(constraint)
    found = _SQLITE_UNIQUE.search(str(error.orig))
    if found is None:
        return None
    if found.group("index"):
        return _BY_NAME.get(found.group("index"))
    return _BY_QUALIFIED.get(tuple(part.strip() for part in found.group("columns").split(",")))

