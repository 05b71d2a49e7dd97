"""Everything that reacts to a committed domain event: `event_handlers` builds the table, and
is its one place (the backend calls it; importing this module registers nothing)."""

from __future__ import annotations

import logging

from services.events.bus import ALL_EVENTS, DomainEvent, EventBus, EventHandlers

logger = logging.getLogger(__name__)


def event_handlers() -> EventHandlers:
    """The handlers of every event, in the order they run."""
    return EventHandlers({ALL_EVENTS: [notify_subscribers, share_with_other_processes, log_event]})


async def notify_subscribers(event: DomainEvent, bus: EventBus) -> None:
    bus.notifications.deliver(event)


async def share_with_other_processes(event: DomainEvent, bus: EventBus) -> None:
    if bus.sharing is not None:
        await bus.sharing.share(event)


async def log_event(event: DomainEvent, bus: EventBus) -> None:
    logger.debug(
        "domain event",
        extra={"event": event.name, "user_id": event.user_id, "project_id": event.project_id},
    )
