"""Distributed mode: this process among others sharing one PostgreSQL database and one Redis.

- Membership: every process has a worker id and keeps a heartbeat key alive in Redis; a run is
  stored with the id of the process running it. A process whose heartbeat has been missing for
  `dead_after_seconds` (as seen from here) is dead, and its runs are ended by whichever process
  notices first (`services.runs.RunManager.sweep`).
- Cancel from anywhere: the request is stored on the run first, then announced on a channel; the
  process running the run cancels it at once (and finds stored requests itself when it sweeps,
  should an announcement be lost).
- Notifications: domain events are shared on a channel, and each process delivers the others'
  to its own subscribers.

Redis being down delays live delivery and cancels but loses nothing: the database is the record.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError

from services.domain_events import DomainEvent

logger = logging.getLogger(__name__)

CANCEL_CHANNEL = "cancel"
NOTIFICATION_CHANNEL = "notifications"
RECONNECT_DELAY_SECONDS = 1.0


class ClusterUnavailable(Exception):
    """Distributed mode cannot start: Redis does not answer."""


@dataclass(frozen=True)
class ClusterCallbacks:
    cancel: Callable[[uuid.UUID], None]  # a run of this process is to be cancelled
    deliver: Callable[[DomainEvent], None]  # another process's notification
    sweep: Callable[[], Awaitable[None]]  # every heartbeat: end dead processes' runs, and so on


class Cluster:
    def __init__(
        self,
        redis: Redis,
        prefix: str,
        *,
        heartbeat_seconds: float = 2.0,
        dead_after_seconds: float = 10.0,
    ) -> None:
        self.redis = redis
        self.prefix = prefix
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self._heartbeat_seconds = heartbeat_seconds
        self._dead_after_seconds = dead_after_seconds
        self._missing_since: dict[str, float] = {}
        self._tasks: list[asyncio.Task[None]] = []

    def key(self, name: str) -> str:
        return f"{self.prefix}{name}"

    async def start(self, callbacks: ClusterCallbacks) -> None:
        try:
            await self._beat()
        except RedisError as error:
            # Starting anyway would leave this process's runs looking like a dead process's.
            raise ClusterUnavailable(f"REDIS_URL is set but Redis does not answer: {error}") from error
        self._tasks = [
            asyncio.create_task(self._beat_forever(callbacks.sweep), name="cluster heartbeat"),
            asyncio.create_task(self._listen_forever(callbacks), name="cluster listener"),
        ]

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        try:
            await self.redis.delete(self.key(f"worker:{self.worker_id}"))
        except RedisError:
            pass  # its key expires by itself

    async def announce_cancel(self, run_id: uuid.UUID) -> None:
        try:
            await self.redis.publish(self.key(CANCEL_CHANNEL), str(run_id))
        except RedisError as error:
            logger.warning("could not announce a cancel; its process finds it when it sweeps", extra={"error": str(error)})

    async def share(self, event: DomainEvent) -> None:
        message = {"from": self.worker_id, "event": _event_json(event)}
        try:
            await self.redis.publish(self.key(NOTIFICATION_CHANNEL), orjson.dumps(message))
        except RedisError as error:
            logger.warning("could not share a notification", extra={"event": event.name, "error": str(error)})

    async def dead(self, worker_ids: set[str]) -> set[str]:
        """The workers whose heartbeat has been missing for `dead_after_seconds` by now."""
        ids = sorted(worker_ids - {self.worker_id})
        if not ids:
            return set()
        async with self.redis.pipeline(transaction=False) as pipe:
            for worker_id in ids:
                pipe.exists(self.key(f"worker:{worker_id}"))
            present = await pipe.execute()
        now = time.monotonic()
        dead = set()
        for worker_id, exists in zip(ids, present, strict=True):
            if exists:
                self._missing_since.pop(worker_id, None)
                continue
            # Counted from when this process first missed it: a Redis that restarted (and so
            # forgot every heartbeat) does not make live processes look dead.
            since = self._missing_since.setdefault(worker_id, now)
            if now - since >= self._dead_after_seconds:
                dead.add(worker_id)
        return dead

    async def _beat(self) -> None:
        ttl = max(1, int(self._dead_after_seconds))
        await self.redis.set(self.key(f"worker:{self.worker_id}"), "1", ex=ttl)

    async def _beat_forever(self, sweep: Callable[[], Awaitable[None]]) -> None:
        while True:
            await asyncio.sleep(self._heartbeat_seconds)
            try:
                await self._beat()
                await sweep()
            except Exception as error:
                logger.warning("cluster heartbeat failed", extra={"error": str(error)})

    async def _listen_forever(self, callbacks: ClusterCallbacks) -> None:
        channels = {self.key(CANCEL_CHANNEL): self._on_cancel, self.key(NOTIFICATION_CHANNEL): self._on_notification}
        while True:
            try:
                async with self.redis.pubsub(ignore_subscribe_messages=True) as pubsub:
                    await pubsub.subscribe(*channels)
                    async for message in pubsub.listen():
                        handle = channels.get(_text(message["channel"]))
                        if handle is not None:
                            handle(message["data"], callbacks)
            except RedisError as error:
                logger.warning("cluster listener lost Redis; reconnecting", extra={"error": str(error)})
                await asyncio.sleep(RECONNECT_DELAY_SECONDS)

    def _on_cancel(self, data: bytes | str, callbacks: ClusterCallbacks) -> None:
        try:
            callbacks.cancel(uuid.UUID(_text(data)))
        except ValueError:
            logger.warning("malformed cancel announcement ignored")

    def _on_notification(self, data: bytes | str, callbacks: ClusterCallbacks) -> None:
        message = orjson.loads(data)
        if message.get("from") != self.worker_id:
            callbacks.deliver(_event_from_json(message["event"]))


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _event_json(event: DomainEvent) -> dict[str, object]:
    return {
        "id": str(event.id),
        "name": event.name,
        "payload": dict(event.payload),
        "userId": event.user_id,
        "projectId": event.project_id,
        "sessionId": event.session_id,
        "createdAt": event.created_at.isoformat(),
    }


def _event_from_json(data: dict[str, Any]) -> DomainEvent:
    return DomainEvent(
        id=uuid.UUID(data["id"]),
        name=data["name"],
        payload=data["payload"],
        user_id=data["userId"],
        project_id=data["projectId"],
        session_id=data["sessionId"],
        created_at=datetime.fromisoformat(data["createdAt"]),
    )
