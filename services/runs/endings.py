"""Runs' ends written outside the journal, for runs that are not live in this process: a queued
run no worker claimed, the runs a stopped process left running.

Each end is a terminal event numbered after the run's last stored event; every event a client
saw is stored, so it follows them all.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.base import utc_now
from db.models import EventLog, Run, RunStatus
from db.repositories.runs import RunOutcome, RunRepository
from services.execution import events as run_events
from services.execution.events import RunEvent
from services.runs.log.streams import RunStreams

INTERRUPTED_MESSAGE = "the server stopped while this run was going; start it again"


class RunEndings:
    def __init__(self, session_factory: async_sessionmaker[AsyncSession], streams: RunStreams | None) -> None:
        self._session_factory = session_factory
        self._streams = streams

    async def end_unclaimed(self, run_id: uuid.UUID, status: RunStatus, *, error: str | None = None) -> bool:
        """Ends a queued run no worker has claimed (False if one has): its one event is its end."""
        at = utc_now()
        final: RunEvent = (
            run_events.RunCancelled(run_id=str(run_id), seq=1, at=at)
            if status is RunStatus.CANCELLED
            else run_events.RunFailed(run_id=str(run_id), seq=1, at=at, error=error or "")
        )
        async with self._session_factory() as session:
            repository = RunRepository(session)
            run = await repository.end_unclaimed(run_id, status=status, at=at, error=error)
            if run is None:
                return False
            _store_final(session, run, final)
            await session.commit()
        self._publish(final)
        return True

    async def interrupt(self, run_id: uuid.UUID) -> None:
        """A run whose worker died ends as interrupted (STALLED_RUNS=interrupt)."""
        async with self._session_factory() as session:
            finals = await mark_interrupted_runs(session, run_ids=[run_id])
            await session.commit()
        for final in finals:
            self._publish(final)

    def _publish(self, final: RunEvent) -> None:
        """For followers in other processes (this process's followers find the end in storage)."""
        if self._streams is not None:
            self._streams.publish(uuid.UUID(final.run_id), [final], final=True)


async def mark_interrupted_runs(
    session: AsyncSession, *, run_ids: Sequence[uuid.UUID] | None = None
) -> list[run_events.RunFailed]:
    """Runs a stopped process left `running` (every one at the start-up of the one process, or
    those of a dead worker with STALLED_RUNS=interrupt) become `interrupted`. Each log is closed
    with a RunFailed numbered after its last stored event, and its open node results end as
    cancelled. Returns those RunFailed."""
    repository = RunRepository(session)
    runs = await repository.unfinished(run_ids=run_ids)
    last_seqs = await repository.last_seqs([run.id for run in runs])
    now = utc_now()
    finals = []
    for run in runs:
        final = run_events.RunFailed(run_id=str(run.id), seq=last_seqs.get(run.id, 0) + 1, at=now, error=INTERRUPTED_MESSAGE)
        finals.append(final)
        _store_final(session, run, final)
    outcomes = [RunOutcome(run.id, RunStatus.INTERRUPTED, now, error=INTERRUPTED_MESSAGE) for run in runs]
    await repository.finish(outcomes)
    await repository.close_unfinished_node_results(outcomes)
    return finals


def _store_final(session: AsyncSession, run: Run, final: RunEvent) -> None:
    session.add(
        EventLog(
            event_name=final.event_name,
            payload=final.to_json(),
            user_id=run.user_id,
            run_id=run.id,
            seq=final.seq,
            created_at=final.at,
        )
    )
