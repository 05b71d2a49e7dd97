"""event_logs: a run's events are named by their GraphQL type (RunCompleted), so that a name
such as `run.completed` means one thing, the domain event (a user's run finished)

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Run events (rows with a run_id) by their old name; domain events (no run_id) keep theirs.
RENAMED = {
    "run.started": "RunStarted",
    "run.node_status_changed": "NodeStatusChanged",
    "run.node_output_delta": "NodeOutputDelta",
    "run.node_completed": "NodeCompleted",
    "run.node_failed": "NodeFailed",
    "run.completed": "RunCompleted",
    "run.failed": "RunFailed",
    "run.cancelled": "RunCancelled",
}


def _rename(names: dict[str, str]) -> None:
    event_logs = sa.table("event_logs", sa.column("event_name", sa.String), sa.column("run_id"))
    for old, new in names.items():
        op.execute(
            event_logs.update()
            .where(event_logs.c.run_id.is_not(None), event_logs.c.event_name == old)
            .values(event_name=new)
        )


def upgrade() -> None:
    _rename(RENAMED)


def downgrade() -> None:
    _rename({new: old for old, new in RENAMED.items()})
