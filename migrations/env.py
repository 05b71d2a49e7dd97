"""Alembic environment, async, for SQLite and PostgreSQL.

Two ways in: `db.migrations.upgrade_database()` hands over an open connection (the server and the
tests do this), or the `alembic` command line, which connects to DATABASE_URL itself.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy.engine import Connection

from db.base import JSONDocument, UTCDateTime
from db.engine import create_engine
from db.models import Base

QUEUE_TABLE_PREFIX = "procrastinate_"

config = context.config
target_metadata = Base.metadata


def render_item(kind: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    """Write our portable column types as plain SQLAlchemy, so versions never import app code."""
    if kind != "type":
        return False
    if isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    if obj is JSONDocument or repr(obj) == repr(JSONDocument):
        autogen_context.imports.add("from sqlalchemy.dialects import postgresql")
        return "sa.JSON().with_variant(postgresql.JSONB(), 'postgresql')"
    return False


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """The run queue's tables (procrastinate's, created from its own schema script) are not
    models: autogenerate leaves them alone."""
    return not (type_ == "table" and name is not None and name.startswith(QUEUE_TABLE_PREFIX))


def run_with_connection(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        include_name=include_name,
        render_item=render_item,
        # SQLite can only ALTER a table by copying it; batch mode does that for us.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_with_own_engine(url: str) -> None:
    engine = create_engine(url)
    async with engine.connect() as connection:
        await connection.run_sync(run_with_connection)
        await connection.commit()
    await engine.dispose()


def database_url() -> str:
    url = config.get_main_option("sqlalchemy.url") or os.environ.get("DATABASE_URL")
    if not url:
        raise SystemExit("Set DATABASE_URL (or run `uv run main.py migrate`, which knows the default).")
    return url


given_connection = config.attributes.get("connection")
if context.is_offline_mode():
    context.configure(url=database_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
elif given_connection is not None:
    run_with_connection(given_connection)
else:
    asyncio.run(run_with_own_engine(database_url()))
