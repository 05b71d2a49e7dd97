"""Domain events: recorded in the caller's transaction, delivered only once it commits.

`record_event` writes the `event_logs` row in the same transaction as the change it describes, so
a rolled-back mutation leaves neither. `commit` commits and then hands the events to the bus,
which runs the handlers of the table built in `services.events.handlers`.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from db.base import utc_now
from db.models import EventLog
from db.repositories.events import EventLogRepository
from services.events.notifications import NotificationHub
from services.platform.pagination import Page, PageRequest

if TYPE_CHECKING:
    from services.accounts.actors import Actor

logger = logging.getLogger(__name__)

_PENDING_EVENTS = "pending_domain_events"
ALL_EVENTS = "*"


@dataclass(frozen=True)
class DomainEvent:
    name: str
    payload: Mapping[str, Any]
    user_id: int | None
    project_id: int | None = None
    session_id: str | None = None
    id: uuid.UUID = field(default_factory=uuid.uuid4)
    created_at: datetime = field(default_factory=utc_now)

    def columns(self) -> dict[str, Any]:
        """The event's `event_logs` row."""
        return {
            "id": self.id,
            "event_name": self.name,
            "payload": dict(self.payload),
            "user_id": self.user_id,
            "project_id": self.project_id,
            "session_id": self.session_id,
            "created_at": self.created_at,
        }

    @classmethod
    def from_row(cls, row: EventLog) -> DomainEvent:
        return cls(
            name=row.event_name,
            payload=row.payload,
            user_id=row.user_id,
            project_id=row.project_id,
            session_id=row.session_id,
            id=row.id,
            created_at=row.created_at,
        )


def record_event(
    session: AsyncSession,
    name: str,
    *,
    user_id: int | None,
    payload: Mapping[str, Any],
    project_id: int | None = None,
    session_id: str | None = None,
) -> DomainEvent:
    event = DomainEvent(
        name=name,
        payload=dict(payload),
        user_id=user_id,
        project_id=project_id,
        session_id=session_id,
    )
    EventLogRepository(session).add_pending(EventLog(**event.columns()))
    session.info.setdefault(_PENDING_EVENTS, []).append(event)
    return event


async def record_events(session: AsyncSession, events: Sequence[DomainEvent]) -> None:
    """Like `record_event`, for many events at once, written now in one statement (the run
    journal ends dozens of runs per transaction)."""
    await EventLogRepository(session).insert_many([event.columns() for event in events])
    session.info.setdefault(_PENDING_EVENTS, []).extend(events)


Handler = Callable[[DomainEvent, "EventBus"], Awaitable[None]]


class EventHandlers:
    """What runs for each committed event, by event name (ALL_EVENTS: for every event); the
    table is built in one place, `services.events.handlers.event_handlers`."""

    def __init__(self, table: Mapping[str, Sequence[Handler]]) -> None:
        self._table = {name: tuple(handlers) for name, handlers in table.items()}

    def for_event(self, name: str) -> list[Handler]:
        return [*self._table.get(name, ()), *self._table.get(ALL_EVENTS, ())]


class EventSharing(Protocol):
    """Other processes' share of this process's domain events (distributed mode)."""

    async def share(self, event: DomainEvent) -> None: ...


class EventBus:
    def __init__(self, handlers: EventHandlers, *, sharing: EventSharing | None = None) -> None:
        self.handlers = handlers
        self.sharing = sharing
        self.notifications: NotificationHub[DomainEvent] = NotificationHub()

    async def publish(self, events: Sequence[DomainEvent]) -> None:
        for event in events:
            for handler in self.handlers.for_event(event.name):
                try:
                    await handler(event, self)
                except Exception:
                    # The change is committed already; a failing handler must not undo the reply.
                    logger.exception("event handler failed", extra={"event": event.name})


async def commit(session: AsyncSession, bus: EventBus) -> None:
    await session.commit()
    await bus.publish(session.info.pop(_PENDING_EVENTS, []))


async def rollback(session: AsyncSession) -> None:
    await session.rollback()
    session.info.pop(_PENDING_EVENTS, None)


async def list_events(session: AsyncSession, actor: Actor, request: PageRequest) -> Page[DomainEvent]:
    """The caller's event log, newest first (a backoffice user reads everyone's)."""
    rows = await EventLogRepository(session).page(
        user_id=actor.owner_filter, offset=request.offset, limit=request.limit
    )
    return Page.from_rows(rows).map(DomainEvent.from_row)
