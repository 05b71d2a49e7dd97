"""Each live run's newest events in a Redis Stream of its own, for followers in other processes.

The journal publishes an event here only after it is stored, so the stream is a window onto the
stored log: entry ids are the events' seqs (`<seq>-0`), which makes "everything after seq N" one
XREAD and makes a repeated publish harmless (Redis refuses an id it already has). The stream is
capped at about `max_length` entries and expires `expire_seconds` after the run's end; a follower
that finds a gap (trimmed, or Redis restarted and lost it) reads storage instead (follow.py).
Publishing never waits on Redis: events go through one ordered sender task, and what cannot be
sent is dropped, not retried (storage has it).

Every follower waiting on a stream holds a Redis connection while it waits (a blocking XREAD),
so reads have a client of their own with a pool sized for that (`READ_CONNECTIONS`): followers
can neither exhaust the connections the sender needs nor a default pool of 100.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from services.execution.events import RunEvent, event_from_json

logger = logging.getLogger(__name__)

SEND_QUEUE_LIMIT = 100_000
# Followers of one process waiting on streams at once (Redis serves 10,000 clients by default).
READ_CONNECTIONS = 2_000


@dataclass(frozen=True, slots=True)
class _Batch:
    run_id: uuid.UUID
    events: Sequence[RunEvent]
    final: bool


class RunStreams:
    def __init__(
        self,
        redis: Redis,
        prefix: str,
        *,
        reader: Redis | None = None,
        max_length: int = 10_000,
        expire_seconds: int = 3_600,
    ) -> None:
        """`reader`: the client followers wait on (see the module's docstring), closed with this."""
        self._redis = redis
        self._reader = reader or redis
        self._prefix = prefix
        self._max_length = max_length
        self._expire_seconds = expire_seconds
        self._outbox: asyncio.Queue[_Batch] = asyncio.Queue(SEND_QUEUE_LIMIT)
        self._sender: asyncio.Task[None] | None = None

    def key(self, run_id: uuid.UUID) -> str:
        return f"{self._prefix}run:{run_id}"

    def publish(self, run_id: uuid.UUID, events: Sequence[RunEvent], *, final: bool) -> None:
        if self._sender is None:
            self._sender = asyncio.create_task(self._send_forever(), name="run streams")
        try:
            self._outbox.put_nowait(_Batch(run_id, events, final))
        except asyncio.QueueFull:
            logger.warning("run stream outbox full; events left to storage", extra={"run_id": str(run_id)})

    async def read(self, run_id: uuid.UUID, *, after_seq: int, wait_seconds: float) -> list[RunEvent]:
        """Events after `after_seq` the stream holds, waiting up to `wait_seconds` for one."""
        reply: Any = await self._reader.xread(
            {self.key(run_id): f"{after_seq}-0"}, count=1_000, block=max(1, int(wait_seconds * 1000))
        )
        return [_event(fields) for _key, entries in reply or () for _id, fields in entries]

    async def close(self) -> None:
        if self._sender is not None:
            self._sender.cancel()
            await asyncio.gather(self._sender, return_exceptions=True)
        if self._reader is not self._redis:
            await self._reader.aclose()

    async def _send_forever(self) -> None:
        while True:
            batch = await self._outbox.get()
            try:
                await self._send(batch)
            except RedisError as error:
                logger.warning(
                    "could not send run events to Redis; followers read them from storage",
                    extra={"run_id": str(batch.run_id), "error": str(error)},
                )

    async def _send(self, batch: _Batch) -> None:
        key = self.key(batch.run_id)
        async with self._redis.pipeline(transaction=False) as pipe:
            for event in batch.events:
                pipe.xadd(
                    key,
                    {"name": event.event_name, "payload": orjson.dumps(event.to_json())},
                    id=f"{event.seq}-0",
                    maxlen=self._max_length,
                    approximate=True,
                )
            if batch.final:
                pipe.expire(key, self._expire_seconds)
            results = await pipe.execute(raise_on_error=False)
        for result in results:
            # An id the stream has already (a batch sent twice): nothing lost.
            if isinstance(result, Exception) and not isinstance(result, ResponseError):
                raise result


def _event(fields: dict[bytes, bytes]) -> RunEvent:
    return event_from_json(fields[b"name"].decode(), orjson.loads(fields[b"payload"]))

