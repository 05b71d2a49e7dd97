"""Server processes sharing one PostgreSQL database and one Redis (distributed mode), and a
client of each: signing up, executing an operation, following a run's log, who runs a run."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import Run
from tests.api.run_client import RUN_EVENTS_AFTER, collect
from tests.graphql_client import Account, GraphQLClient, graphql_ws
from tests.server_process import ServerProcess
from tests.waiting import wait_until


@contextlib.asynccontextmanager
async def processes(environ: dict[str, str], workdir: Path, count: int) -> AsyncIterator[list[ServerProcess]]:
    servers = [ServerProcess(environ, workdir) for _ in range(count)]
    try:
        await asyncio.gather(*(server.start() for server in servers))
        yield servers
    finally:
        await asyncio.gather(*(server.stop() for server in servers))


async def sign_up(server: ServerProcess, username: str) -> Account:
    async with httpx.AsyncClient(base_url=server.url) as http:
        return await GraphQLClient(http).signup(username)


async def execute(server: ServerProcess, query: str, variables: dict[str, Any], account: Account) -> Any:
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        return (await GraphQLClient(http).execute(query, variables, token=account.access_token)).ok()


async def follow(server: ServerProcess, account: Account, run_id: str, after_seq: int = 0) -> list[dict[str, Any]]:
    async with graphql_ws(server.url, payload={"token": account.access_token}) as connection:
        operation = await connection.subscribe(RUN_EVENTS_AFTER, {"runId": run_id, "afterSeq": after_seq})
        return await collect(connection, operation)


async def running_pid(session_factory: async_sessionmaker[AsyncSession], run_id: str, *, attempt: int = 1) -> int:
    """The pid of the process that claimed the run's `attempt` (worker ids are host:pid:random)."""

    async def claimed_by() -> int | None:
        async with session_factory() as session:
            row = (await session.execute(select(Run.worker_id, Run.attempt).where(Run.id == uuid.UUID(run_id)))).one()
        return int(row.worker_id.split(":")[1]) if row.worker_id and row.attempt >= attempt else None

    return await wait_until(claimed_by, what=f"a process to claim attempt {attempt} of run {run_id}")
