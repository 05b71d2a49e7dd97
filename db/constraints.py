"""Which constraint a refused write broke, read from the database's error: by its name where
the database gives it (PostgreSQL), else by what it gives (SQLite's columns and error codes)."""

from __future__ import annotations

import re
import sqlite3

from sqlalchemy import ForeignKeyConstraint, Index, UniqueConstraint
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


_REFERRED_TABLES = {
    str(constraint.name): constraint.referred_table.name
    for table in Base.metadata.tables.values()
    for constraint in table.constraints
    if isinstance(constraint, ForeignKeyConstraint)
}
_POSTGRESQL_FOREIGN_KEY_VIOLATION = "23503"


def violated_unique_columns(error: IntegrityError) -> tuple[str, ...] | None:
    """The columns of the unique constraint the write broke; None for any other integrity error."""
    constraint = _postgresql_constraint(error)
    if constraint is not None:
        return _BY_NAME.get(constraint)
    found = _SQLITE_UNIQUE.search(str(error.orig))
    if found is None:
        return None
    if found.group("index"):
        return _BY_NAME.get(found.group("index"))
    return _BY_QUALIFIED.get(tuple(part.strip() for part in found.group("columns").split(",")))



def violated_foreign_key(error: IntegrityError) -> str | None:
    """The table a write referred to a missing row of ("" when SQLite does not say which);
    None for any other integrity error."""
    if getattr(error.orig, "sqlstate", None) == _POSTGRESQL_FOREIGN_KEY_VIOLATION:
        return _REFERRED_TABLES.get(_postgresql_constraint(error) or "", "")
    if getattr(error.orig, "sqlite_errorcode", None) == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
        return ""
    return None


def _postgresql_constraint(error: IntegrityError) -> str | None:
    # asyncpg's own error sits behind SQLAlchemy's emulated DBAPI error.
    driver_error = getattr(error.orig, "orig", None) or getattr(error.orig, "__cause__", None)
    constraint = getattr(driver_error, "constraint_name", None)
    return constraint if isinstance(constraint, str) else None
