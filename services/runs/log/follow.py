"""Following a run's log from any seq: storage first, then the live tail, no gap, no duplicate.

Three sources, each holding only stored events: the database (everything), this process's
live tail (the newest events of runs going on here) and, in distributed mode, the run's Redis
stream (the newest events of runs going on in any process). A follower reads storage until it
reaches what a live source holds, then the live source; whenever the live source has moved past
the follower (a window trimmed, a stream lost), it reads storage again.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import RunStatus
from db.repositories.runs import RunRepository
from services.execution import events as run_events
from services.execution.events import RunEvent, event_from_json
from services.platform.metrics import Metrics
from services.runs.log.streams import RunStreams
from services.runs.log.tail import LiveTails

STORED_PAGE = 500
# How long one wait on a run's stream lasts before storage is looked at again (a run whose
# process died is ended in storage, not on its stream).
STREAM_WAIT_SECONDS = 1.0


@dataclass(frozen=True)
class RunLogs:
    """The sources every follower of this process reads runs' logs from."""

    session_factory: async_sessionmaker[AsyncSession]
    tails: LiveTails
    metrics: Metrics
    streams: RunStreams | None = None

    def follow(self, run_id: uuid.UUID, *, after_seq: int) -> AsyncIterator[RunEvent]:
        """`follow_run` from these sources, each event counted as it is delivered."""
        events = follow_run(
            run_id, after_seq=after_seq, tails=self.tails, session_factory=self.session_factory, streams=self.streams
        )
        return self.metrics.delivered(events)


async def follow_run(
    run_id: uuid.UUID,
    *,
    after_seq: int,
    tails: LiveTails,
    session_factory: async_sessionmaker[AsyncSession],
    streams: RunStreams | None = None,
) -> AsyncIterator[RunEvent]:
    """Every event after `after_seq`, once and in order, until the run's terminal event."""
    next_seq = after_seq + 1
    on_stream = False  # reading the run's Redis stream: it had every event so far
    tail = None
    while True:
        # Once found, kept: a tail leaves the registry with its run's end, which its followers
        # still read from it (storage may be what ended the run).
        tail = tail or tails.get(run_id)
        if tail is not None and next_seq >= tail.first_seq:
            events = tail.since(next_seq) or []
            if not events:
                if tail.handed_over:
                    tail = None  # the run went on in another process: follow it there
                    continue
                if tail.closed:
                    return
                await tail.changed()
                continue
        elif on_stream and streams is not None:
            events = await _from_stream(streams, run_id, next_seq)
            # Nothing new for a while, or a gap: storage says whether the run goes on.
            on_stream = bool(events)
        else:
            events = await stored_events(session_factory, run_id, after_seq=next_seq - 1, limit=STORED_PAGE)
            if not events and tail is None:
                if streams is None or not await _running(session_factory, run_id):
                    # Ended (or not followable here): read what may have landed meanwhile.
                    events = await stored_events(session_factory, run_id, after_seq=next_seq - 1, limit=STORED_PAGE)
                    if not events:
                        return
                else:
                    on_stream = True
                    continue
        for event in events:
            yield event
            next_seq = event.seq + 1
            if isinstance(event, run_events.FINAL_EVENTS):
                return


async def _from_stream(streams: RunStreams, run_id: uuid.UUID, next_seq: int) -> list[RunEvent]:
    """The stream's events from `next_seq` on; none when it has not got `next_seq` (storage has)."""
    try:
        events = await streams.read(run_id, after_seq=next_seq - 1, wait_seconds=STREAM_WAIT_SECONDS)
    except RedisError:
        # Redis unreachable: storage alone, polled, until it is back.
        await asyncio.sleep(STREAM_WAIT_SECONDS)
        return []
    return events if events and events[0].seq == next_seq else []


async def _running(session_factory: async_sessionmaker[AsyncSession], run_id: uuid.UUID) -> bool:
    async with session_factory() as session:
        run = await RunRepository(session).get(run_id, owner_id=None)
    return run is not None and run.status == RunStatus.RUNNING.value


async def stored_events(
    session_factory: async_sessionmaker[AsyncSession], run_id: uuid.UUID, *, after_seq: int, limit: int
) -> list[RunEvent]:
    async with session_factory() as session:
        rows = await RunRepository(session).events(run_id, after_seq=after_seq, limit=limit)
    return [event_from_json(row.event_name, row.payload) for row in rows]
