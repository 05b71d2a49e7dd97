from __future__ import annotations

from collections.abc import AsyncGenerator

from resolvers.common import page_of
from schema.context import Info
from schema.types.events import EventLog, Notification
from schema.types.pagination import Connection
from services.events import bus as event_bus


async def events(info: Info, first: int | None = None, after: str | None = None) -> Connection[EventLog]:
    actor = await info.context.require_actor()
    page = await event_bus.list_events(info.context.session, actor, page_of(info, first, after))
    return Connection.of(page, EventLog.from_event)


async def notifications(info: Info) -> AsyncGenerator[Notification, None]:
    """The caller's domain events as they are committed (a backoffice user gets everyone's)."""
    actor = await info.context.require_actor()
    async with info.context.backend.bus.notifications.subscribe(actor.owner_filter) as queue:
        while True:
            yield Notification.from_event(await queue.get())
