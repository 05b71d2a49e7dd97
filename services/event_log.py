from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from db.repositories.events import EventLogRepository
from services.auth import Actor
from services.events import DomainEvent
from services.pagination import Page, PageRequest


async def list_events(session: AsyncSession, actor: Actor, request: PageRequest) -> Page[DomainEvent]:
    """The caller's event log, newest first (a backoffice user reads everyone's)."""
    rows = await EventLogRepository(session).page(
        user_id=actor.owner_filter, offset=request.offset, limit=request.limit
    )
    return Page.from_rows(rows).map(DomainEvent.from_row)
