"""What an app does with its database, recorded through SQLAlchemy's events: the SQL statements
it sends and its pool's events."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event
from starlette.applications import Starlette


@contextmanager
def count_statements(app: Starlette) -> Iterator[list[str]]:
    """Each SQL statement `app` sends while the block runs."""
    statements: list[str] = []
    engine = app.state.backend.engine.sync_engine

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)
