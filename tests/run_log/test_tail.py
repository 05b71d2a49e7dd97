"""The live tail wakes every follower waiting on it, each time something lands."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from services.execution.events import NodeOutputDelta
from services.runs.log.tail import RunTail

AT = datetime(2026, 12, 1, tzinfo=UTC)


def delta(seq: int) -> NodeOutputDelta:
    return NodeOutputDelta(run_id="r", seq=seq, at=AT, node_id="n", delta=str(seq))


async def test_every_waiting_follower_wakes_for_each_batch_and_can_wait_again() -> None:
    tail = RunTail()
    for seq in (1, 2, 3):
        waiting = [asyncio.create_task(tail.changed()) for _ in range(3)]
        await asyncio.sleep(0)
        assert not any(task.done() for task in waiting)
        tail.extend([delta(seq)])
        await asyncio.wait_for(asyncio.gather(*waiting), timeout=1)
    assert [event.seq for event in tail.since(1) or []] == [1, 2, 3]


async def test_a_follower_cancelled_while_waiting_leaves_the_others_waiting() -> None:
    tail = RunTail()
    cancelled, other = asyncio.create_task(tail.changed()), asyncio.create_task(tail.changed())
    await asyncio.sleep(0)
    cancelled.cancel()
    await asyncio.sleep(0)
    assert not other.done()
    tail.close()
    await asyncio.wait_for(other, timeout=1)
    assert tail.closed
