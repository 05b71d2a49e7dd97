"""runs: the attempt that may write each run; PostgreSQL: the run queue's tables (procrastinate)

The queue's schema is the one procrastinate 3.10.0 ships (migrations/sql/), kept here as it was
so this revision always builds the same thing; a later procrastinate whose schema differs gets
a revision of its own applying that release's migration files.

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa
from alembic import op
from sqlalchemy.util import await_only

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

QUEUE_SCHEMA = Path(__file__).resolve().parent.parent / "sql" / "procrastinate-3.10.0.sql"

# Everything the queue's schema creates is named procrastinate_*.
DROP_QUEUE_SCHEMA = """
DO $$
DECLARE item record;
BEGIN
    FOR item IN SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND tablename LIKE 'procrastinate%' LOOP
        EXECUTE format('DROP TABLE IF EXISTS %I CASCADE', item.tablename);
    END LOOP;
    FOR item IN SELECT p.oid::regprocedure AS signature FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                WHERE n.nspname = current_schema() AND p.proname LIKE 'procrastinate%' LOOP
        EXECUTE format('DROP FUNCTION IF EXISTS %s CASCADE', item.signature);
    END LOOP;
    FOR item IN SELECT t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
                WHERE n.nspname = current_schema() AND t.typname LIKE 'procrastinate%' AND t.typtype IN ('e', 'c') LOOP
        EXECUTE format('DROP TYPE IF EXISTS %I CASCADE', item.typname);
    END LOOP;
END;
$$;
"""


def upgrade() -> None:
    # Counted up by each worker that claims the run; a write of any other attempt is refused.
    op.add_column("runs", sa.Column("attempt", sa.Integer(), nullable=False, server_default="0"))
    if op.get_bind().dialect.name == "postgresql":
        _execute_script(QUEUE_SCHEMA.read_text(encoding="utf-8"))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _execute_script(DROP_QUEUE_SCHEMA)
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("attempt")


def _execute_script(sql: str) -> None:
    """Many statements (and $$-quoted bodies) at once: the driver's simple query protocol, on
    the migration's own connection and transaction."""
    driver_connection = op.get_bind().connection.driver_connection
    await_only(driver_connection.execute(sql))
