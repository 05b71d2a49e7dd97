"""Distributed mode: this process among others sharing one PostgreSQL database and one Redis.

- Identity: every process has a worker id; a run is stored with the id of the process running
  it. Which processes are alive is the run queue's business (services.runs.queue: procrastinate's
  worker heartbeats in PostgreSQL), not this module's.
- Cancel from anywhere: the request is stored on the run first, then announced on a channel; the
  process running the run cancels it at once (and finds stored requests itself when it sweeps,
  every `sweep_seconds`, should an announcement be lost).
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
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError

from services.events.bus import DomainEvent

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
    sweep: Callable[[], Awaitable[None]]  # every `sweep_seconds`: stored cancel requests


class Cluster:
    def __init__(
        self,
        redis: Redis,
        prefix: str,
        *,
        sweep_seconds: float = 2.0,
    ) -> None:
        self.redis = redis
        self.prefix = prefix
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self._sweep_seconds = sweep_seconds
        self._tasks: list[asyncio.Task[None]] = []

    def key(self, name: str) -> str:
        return f"{self.prefix}{name}"

    async def start(self, callbacks: ClusterCallbacks) -> None:
        try:
            await self.redis.ping()
        except RedisError as error:
            # Starting anyway would hide a wrong REDIS_URL until the first cancel went unheard.
            raise ClusterUnavailable(f"REDIS_URL is set but Redis does not answer: {error}") from error
        self._tasks = [
            asyncio.create_task(self._sweep_forever(callbacks.sweep), name="cluster sweep"),
            asyncio.create_task(self._listen_forever(callbacks), name="cluster listener"),
        ]

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

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

    async def _sweep_forever(self, sweep: Callable[[], Awaitable[None]]) -> None:
        while True:
            await asyncio.sleep(self._sweep_seconds)
            try:
                await sweep()
            except Exception as error:
                logger.warning("cluster sweep failed", extra={"error": str(error)})

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
