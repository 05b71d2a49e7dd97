"""usernames unique regardless of case, in the database too

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("users", "backoffice_users")


def upgrade() -> None:
    for table in TABLES:
        op.execute(f"CREATE UNIQUE INDEX uq_{table}_username_lower ON {table} (lower(username))")


def downgrade() -> None:
    for table in TABLES:
        op.execute(f"DROP INDEX uq_{table}_username_lower")
