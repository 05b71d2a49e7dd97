"""Async engine and session factory for SQLite (aiosqlite) and PostgreSQL (asyncpg)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from functools import partial
from typing import Any

import orjson
from sqlalchemy import event, text
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import PoolResetState


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def json_text(value: Any) -> str:
    """JSON columns' text: orjson (several times faster: run events are written by the
    thousand), the standard library for what orjson refuses (integers beyond 64 bits)."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return json.dumps(value)


def json_value(text: Any) -> Any:
    # SQLite hands a JSON column that holds a bare number back as that number.
    if not isinstance(text, str | bytes):
        return text
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        # What orjson refuses and the standard library wrote and reads: NaN and Infinity as
        # bare words (stored in SQLite by versions before the API refused them), an escaped
        # lone surrogate.
        return json.loads(text)


# Connections kept open between requests: enough that 32 concurrent clients find one each
# instead of opening and closing overflow connections (DATABASE_POOL_SIZE).
DEFAULT_POOL_SIZE = 32
# Beyond the pool, for bursts (PostgreSQL): these are closed again when returned.
POOL_OVERFLOW = 10
# SQLite runs each connection on a thread of its own (aiosqlite) and writes one at a time:
# more connections only add threads contending for the GIL (measured: 32 cost 20% more CPU
# per request than 5), so its pool is this small and does not overflow: requests beyond it
# wait for a connection rather than open (and then close) one.
SQLITE_POOL_SIZE = 8
IDLE_IN_TRANSACTION_TIMEOUT_MS = 30_000


def create_engine(url: str, *, echo: bool = False, pool_size: int | None = None) -> AsyncEngine:
    """`pool_size`: connections kept open (default DEFAULT_POOL_SIZE, SQLITE_POOL_SIZE)."""
    sqlite = is_sqlite(url)
    options: dict[str, Any] = {
        "json_serializer": json_text,
        "json_deserializer": json_value,
        "pool_size": pool_size or (SQLITE_POOL_SIZE if sqlite else DEFAULT_POOL_SIZE),
        "max_overflow": 0 if sqlite else POOL_OVERFLOW,
    }
    if not sqlite:
        # A process frozen inside a transaction (SIGSTOP, a stalled VM) would hold its row locks
        # for good: a run's claim by another worker waits on them (services.runs.queue).
        settings = {"idle_in_transaction_session_timeout": str(IDLE_IN_TRANSACTION_TIMEOUT_MS)}
        return create_async_engine(
            url, echo=echo, pool_pre_ping=True, connect_args={"server_settings": settings}, **options
        )
    engine = create_async_engine(
        url, echo=echo, connect_args={"timeout": 30}, pool_reset_on_return=None, **options
    )
    event.listen(engine.sync_engine, "connect", _configure_sqlite_connection)
    event.listen(engine.sync_engine.pool, "reset", partial(_roll_back_open_transaction, engine.dialect))
    return engine


def _configure_sqlite_connection(dbapi_connection: Any, _record: Any) -> None:
    # SQLite ignores foreign keys (and so ON DELETE CASCADE) unless asked on every connection.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _roll_back_open_transaction(
    dialect: Dialect, dbapi_connection: Any, _record: Any, state: PoolResetState
) -> None:
    """SQLite's reset of a connection back in the pool, in place of the pool's own: that one
    rolls back after every commit too, each time a trip to the connection's thread (aiosqlite)
    for nothing. Only a transaction left open needs it."""
    if state.asyncio_safe and dialect.get_driver_connection(dbapi_connection).in_transaction:
        dbapi_connection.rollback()


class ConnectOnceSession(AsyncSession):
    """A session that may be used by concurrent coroutines before its connection is open.

    GraphQL resolves the root fields of a query concurrently, and they share the operation's
    session. Once it has its connection, their statements take turns on it (the drivers'
    adapters serialise them), but two of them *opening* it at once is an error ("This session
    is provisioning a new connection", PostgreSQL especially). Opening it eagerly for every
    operation would cost a pooled connection even where no resolver needs one; instead the
    first statement opens it, under a lock the others wait on.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._opening = asyncio.Lock()
        self._connected = False

    async def _opened(self) -> None:
        if self._connected:
            return
        async with self._opening:
            await self.connection()
            self._connected = True

    # Ending the transaction hands the connection back: the next statement opens one again.
    async def commit(self) -> None:
        self._connected = False
        await super().commit()

    async def rollback(self) -> None:
        self._connected = False
        await super().rollback()

    async def close(self) -> None:
        self._connected = False
        await super().close()

    async def execute(self, *args: Any, **kwargs: Any) -> Any:
        await self._opened()
        return await super().execute(*args, **kwargs)

    async def scalars(self, *args: Any, **kwargs: Any) -> Any:
        await self._opened()
        return await super().scalars(*args, **kwargs)

    async def scalar(self, *args: Any, **kwargs: Any) -> Any:
        await self._opened()
        return await super().scalar(*args, **kwargs)

    async def get(self, *args: Any, **kwargs: Any) -> Any:
        await self._opened()
        return await super().get(*args, **kwargs)

    async def flush(self, objects: Sequence[Any] | None = None) -> None:
        await self._opened()
        await super().flush(objects)


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, class_=ConnectOnceSession, expire_on_commit=False, autoflush=False)


async def database_is_reachable(session: AsyncSession) -> bool:
    try:
        await session.execute(text("SELECT 1"))
    except Exception:
        return False
    return True
