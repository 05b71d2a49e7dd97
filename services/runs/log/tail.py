"""The live tail: the latest durable events of the runs going on in this process, in memory.

Each live run keeps a bounded window of its newest events, shared by all of its followers; a
follower that falls behind the window reads the database instead (see follow.py), so a slow
reader costs memory for neither the run nor the other readers.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence

from services.execution.events import RunEvent

DEFAULT_WINDOW = 1_000


class RunTail:
    """One run's newest durable events (seq `first_seq` onward) and whether its log is closed."""

    def __init__(self, window: int = DEFAULT_WINDOW, first_seq: int = 1) -> None:
        self._window = window
        self._events: list[RunEvent] = []
        self.first_seq = first_seq
        self.closed = False
        # Closed without its end: the run goes on in another process (taken over).
        self.handed_over = False
        self._news = asyncio.Event()
        self._waiting = False  # a follower waits on `_news`

    @property
    def last_seq(self) -> int:
        return self.first_seq + len(self._events) - 1

    def extend(self, events: Sequence[RunEvent]) -> None:
        self._events.extend(events)
        # Trimmed in chunks, not one event at a time: the copy is amortised.
        if len(self._events) > 2 * self._window:
            drop = len(self._events) - self._window
            del self._events[:drop]
            self.first_seq += drop
        self._wake()

    def close(self) -> None:
        """The terminal event is in: followers finish once they have read it."""
        self.closed = True
        self._wake()

    def since(self, seq: int) -> list[RunEvent] | None:
        """Events from `seq` on, or None when `seq` has left the window (read storage)."""
        if seq < self.first_seq:
            return None
        return self._events[seq - self.first_seq :]

    async def changed(self) -> None:
        self._waiting = True
        await self._news.wait()

    def _wake(self) -> None:
        # Only when someone waits: most batches find every follower busy sending. One Event
        # for the tail's life: set() resolves the waiters' own futures, so clearing it at
        # once wakes them all the same and leaves it ready for the next wait.
        if self._waiting:
            self._waiting = False
            self._news.set()
            self._news.clear()


class LiveTails:
    """The tails of this process's live runs, by run id."""

    def __init__(self, window: int = DEFAULT_WINDOW) -> None:
        self._window = window
        self._tails: dict[uuid.UUID, RunTail] = {}

    def open(self, run_id: uuid.UUID, *, first_seq: int = 1) -> RunTail:
        tail = self._tails[run_id] = RunTail(self._window, first_seq)
        return tail

    def get(self, run_id: uuid.UUID) -> RunTail | None:
        return self._tails.get(run_id)

    def publish(self, run_id: uuid.UUID, events: Sequence[RunEvent], *, final: bool) -> None:
        tail = self._tails.get(run_id)
        if tail is None:
            return
        tail.extend(events)
        if final:
            tail.close()
            # Followers that hold the tail read it to the end; new ones read storage.
            del self._tails[run_id]

    def discard(self, run_id: uuid.UUID) -> None:
        self._tails.pop(run_id, None)

    def hand_over(self, run_id: uuid.UUID) -> None:
        """The run goes on elsewhere: its followers here leave the tail for storage and stream."""
        tail = self._tails.pop(run_id, None)
        if tail is not None:
            tail.handed_over = True
            tail.close()
