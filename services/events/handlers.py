"""Everything that reacts to a committed domain event, registered here and nowhere else."""

from __future__ import annotations

import logging

from services.events.bus import DomainEvent, EventBus, EventHandlers

logger = logging.getLogger(__name__)

handlers = EventHandlers()


@handlers.on("*")
async def notify_subscribers(event: DomainEvent, bus: EventBus) -> None:
    bus.notifications.deliver(event)


@handlers.on("*")
async def share_with_other_processes(event: DomainEvent, bus: EventBus) -> None:
    if bus.sharing is not None:
        await bus.sharing.share(event)


@handlers.on("*")
async def log_event(event: DomainEvent, bus: EventBus) -> None:
    logger.debug(
        "domain event",
        extra={"event": event.name, "user_id": event.user_id, "project_id": event.project_id},
    )
