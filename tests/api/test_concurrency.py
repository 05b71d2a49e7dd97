"""Many requests at once share the connection pool without waiting on each other."""

from __future__ import annotations

import asyncio

from tests.graphql_client import GraphQLClient


async def test_more_concurrent_signed_in_requests_than_pooled_connections_are_all_answered(
    api: GraphQLClient,
) -> None:
    alice = await api.signup("alice")
    # The pool holds 15 connections; each request authenticates, then runs its operation.
    results = await asyncio.wait_for(
        asyncio.gather(
            *(api.execute("{ projects { totalCount } flows { totalCount } }", token=alice.access_token) for _ in range(40))
        ),
        timeout=20,
    )
    assert all(result.ok() for result in results)
