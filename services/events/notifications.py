"""Live delivery of committed domain events to the `notifications` subscribers of this process."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Generic, Protocol, TypeVar

logger = logging.getLogger(__name__)

# A subscriber that stops reading must not grow memory without bound.
MAX_QUEUED_NOTIFICATIONS = 1_000
# Key for subscribers that see every user's events (backoffice users).
EVERYONE = None


class Addressed(Protocol):
    """What the hub needs of an event: whose it is (None: nobody's in particular)."""

    @property
    def user_id(self) -> int | None: ...

    @property
    def name(self) -> str: ...


Event = TypeVar("Event", bound=Addressed)


class NotificationHub(Generic[Event]):
    def __init__(self) -> None:
        self._queues: defaultdict[int | None, set[asyncio.Queue[Event]]] = defaultdict(set)

    def deliver(self, event: Event) -> None:
        recipients = [*self._queues.get(EVERYONE, ())]
        if event.user_id is not None:
            recipients += self._queues.get(event.user_id, ())
        for queue in recipients:
            try:
                queue.put_nowait(event)
            except asyncio.QueueFull:
                logger.warning("notification dropped: subscriber is not reading", extra={"event": event.name})

    @asynccontextmanager
    async def subscribe(self, user_id: int | None) -> AsyncIterator[asyncio.Queue[Event]]:
        """`user_id=None` sees everyone's events."""
        queue: asyncio.Queue[Event] = asyncio.Queue(MAX_QUEUED_NOTIFICATIONS)
        self._queues[user_id].add(queue)
        try:
            yield queue
        finally:
            self._queues[user_id].discard(queue)
            if not self._queues[user_id]:
                del self._queues[user_id]
