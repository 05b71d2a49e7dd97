"""Following a run's log from any seq: storage first, then the live tail, no gap, no duplicate."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.repositories.runs import RunRepository
from services.execution import events as run_events
from services.execution.events import RunEvent, event_from_json
from services.run_log.tail import LiveTails

STORED_PAGE = 500


async def follow_run(
    run_id: uuid.UUID,
    *,
    after_seq: int,
    tails: LiveTails,
    session_factory: async_sessionmaker[AsyncSession],
) -> AsyncIterator[RunEvent]:
    """Every event after `after_seq`, once and in order, until the run's terminal event.

    Everything the tail has published is stored already, so reading storage up to the tail's
    window and then the window itself leaves nothing out. A run that is not live here is read
    from storage alone.
    """
    next_seq = after_seq + 1
    tail = tails.get(run_id)
    while True:
        if tail is None or next_seq < tail.first_seq:
            events = await stored_events(session_factory, run_id, after_seq=next_seq - 1, limit=STORED_PAGE)
            if tail is None and len(events) < STORED_PAGE:
                tail = tails.get(run_id)
                if tail is None and not events:
                    return  # not live here, and all of it is read
        else:
            events = tail.since(next_seq) or []
            if not events:
                if tail.closed:
                    return
                await tail.changed()
                continue
        for event in events:
            yield event
            next_seq = event.seq + 1
            if isinstance(event, run_events.FINAL_EVENTS):
                return


async def stored_events(
    session_factory: async_sessionmaker[AsyncSession], run_id: uuid.UUID, *, after_seq: int, limit: int
) -> list[RunEvent]:
    async with session_factory() as session:
        rows = await RunRepository(session).events(run_id, after_seq=after_seq, limit=limit)
    return [event_from_json(row.event_name, row.payload) for row in rows]
