"""Flow runs and the result of each node in a run."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, utc_now


class RunStatus(enum.Enum):
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    # The server stopped while the run was going (found at the next start-up).
    INTERRUPTED = "interrupted"


class Run(Base):
    __tablename__ = "runs"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # Null for a run of a graph that was never saved as a flow.
    flow_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("flows.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(16), index=True)
    provider_id: Mapped[str | None] = mapped_column(String(32))
    trigger_node_id: Mapped[str | None] = mapped_column(String(200))
    graph_data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    outputs: Mapped[dict[str, Any] | None]
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    # Distributed mode: the process running it (services.runs.cluster), and a cancel asked for
    # from any process, stored before it is announced.
    worker_id: Mapped[str | None] = mapped_column(String(100))
    cancel_requested: Mapped[bool] = mapped_column(default=False, server_default=false())
    # Distributed mode: counted up by each worker that claims the run (services.runs.queue); a
    # write of the run's log by any other attempt is refused, so a worker that wakes up after
    # its run was taken over cannot write.
    attempt: Mapped[int] = mapped_column(default=0, server_default="0")


class RunNodeResult(Base):
    __tablename__ = "run_node_results"
    __table_args__ = (UniqueConstraint("run_id", "node_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    run_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    node_id: Mapped[str] = mapped_column(String(200))
    node_type: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    output: Mapped[dict[str, Any] | None]
    error: Mapped[str | None] = mapped_column(Text)
    # Identical node = same type, config and inputs: its stored output can stand in.
    cache_key: Mapped[str | None] = mapped_column(String(64), index=True)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    duration_ms: Mapped[float | None] = mapped_column(Float)
