"""Database connections: taken only by operations that need one, one per operation, reused."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event
from starlette.applications import Starlette

from tests.api.statements import count_statements
from tests.graphql_client import GraphQLClient


@contextmanager
def pool_events(app: Starlette, name: str) -> Iterator[list[object]]:
    """Each `name` event ("checkout": a connection taken from the pool, "connect": a new one)."""
    seen: list[object] = []
    pool = app.state.backend.engine.sync_engine.pool

    def record(*args: Any) -> None:
        seen.append(args[0])

    event.listen(pool, name, record)
    try:
        yield seen
    finally:
        event.remove(pool, name, record)


async def test_catalog_and_provider_queries_take_no_database_connection(api: GraphQLClient, app: Starlette) -> None:
    with pool_events(app, "checkout") as checkouts:
        (await api.execute("{ components { type } providers { id available } }")).ok()
    assert checkouts == []


async def test_root_fields_that_read_the_database_share_one_connection(api: GraphQLClient, app: Starlette) -> None:
    alice = await api.signup("alice")
    (await api.execute("{ me { id } }", token=alice.access_token)).ok()  # the session's state is now known
    with pool_events(app, "checkout") as checkouts:
        result = await api.execute(
            "{ projects { totalCount } flows { totalCount } characters { totalCount } runs { totalCount } }",
            token=alice.access_token,
        )
    assert result.ok() == {key: {"totalCount": 0} for key in ("projects", "flows", "characters", "runs")}
    assert len(checkouts) == 1


async def test_bursts_of_32_concurrent_requests_reuse_pooled_connections(api: GraphQLClient, app: Starlette) -> None:
    alice = await api.signup("alice")

    async def burst() -> None:
        results = await asyncio.gather(*(api.execute("{ me { id } }", token=alice.access_token) for _ in range(32)))
        assert all(result.ok() for result in results)

    await burst()
    with pool_events(app, "connect") as connects:
        await burst()
    assert connects == []


async def test_health_reads_the_database_at_most_once_a_second(api: GraphQLClient, app: Starlette) -> None:
    with count_statements(app) as statements:
        for _ in range(3):
            assert (await api.execute("{ health { status database } }")).ok() == {
                "health": {"status": "ok", "database": True}
            }
    assert len(statements) == 1
