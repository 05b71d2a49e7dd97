"""Live delivery of committed domain events to the `notifications` subscribers of this process."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from services.events import DomainEvent

logger = logging.getLogger(__name__)

# A subscriber that stops reading must not grow memory without bound.
MAX_QUEUED_NOTIFICATIONS = 1_000
# Key for subscribers that see every user's events (backoffice users).
EVERYONE = None


class NotificationHub:
    def __init__(self) -> None:
        self._queues: defaultdict[int | None, set[asyncio.Queue[DomainEvent]]] = defaultdict(set)

    def deliver(self, event: DomainEvent) -> None:
        recipients = [*self._queues.get(EVERYONE, ())]
        if event.user_id is not None:
            recipients += self._queues.get(event.user_id, ())
        for queue in recipients:
            try:
                queue.put_nowait(event)
            except asyncio.QueueFull:
                logger.warning("notification dropped: subscriber is not reading", extra={"event": event.name})

    @asynccontextmanager
    async def subscribe(self, user_id: int | None) -> AsyncIterator[asyncio.Queue[DomainEvent]]:
        """`user_id=None` sees everyone's events."""
        queue: asyncio.Queue[DomainEvent] = asyncio.Queue(MAX_QUEUED_NOTIFICATIONS)
        self._queues[user_id].add(queue)
        try:
            yield queue
        finally:
            self._queues[user_id].discard(queue)
            if not self._queues[user_id]:
                del self._queues[user_id]

    def subscriber_count(self) -> int:
        return sum(len(queues) for queues in self._queues.values())
