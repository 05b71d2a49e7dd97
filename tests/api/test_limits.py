"""Query depth, aliases, tokens and request size are limited (ARCHITECTURE.md, "Limits")."""

from __future__ import annotations

from collections.abc import AsyncIterator

from tests.graphql_client import GraphQLClient


async def test_a_query_deeper_than_the_limit_is_refused(api: GraphQLClient) -> None:
    alice = await api.signup("alice")
    nested = "flows { project { " * 6 + "id" + " } }" * 6
    query = "{ projects { nodes { " + nested + " } } }"
    result = await api.execute(query, token=alice.access_token)
    assert result.error_code == "BAD_USER_INPUT"
    assert "MAX_QUERY_DEPTH" in result.errors[0]["message"]


async def test_too_many_aliases_are_refused(api: GraphQLClient) -> None:
    query = "{ " + " ".join(f"h{i}: health {{ status }}" for i in range(31)) + " }"
    result = await api.execute(query)
    assert result.error_code == "BAD_USER_INPUT"
    assert result.data is None
    assert "MAX_QUERY_ALIASES" in result.errors[0]["message"]


async def test_too_many_tokens_are_refused(api: GraphQLClient) -> None:
    query = "{ health { " + " ".join(["status"] * 5_000) + " } }"
    result = await api.execute(query)
    assert result.error_code == "BAD_USER_INPUT"
    assert "token" in result.errors[0]["message"].lower()


async def test_a_body_over_the_size_cap_gets_413(api: GraphQLClient) -> None:
    padding = "x" * (4 * 1024 * 1024 + 1)
    response = await api.http.post("/graphql", json={"query": "{ health { status } }", "variables": {"p": padding}})
    assert response.status_code == 413


async def test_a_chunked_body_over_the_size_cap_gets_413(api: GraphQLClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"query": "{ health { status } }", "variables": {"p": "'
        for _ in range(5):
            yield b"x" * (1024 * 1024)
        yield b'"}}'

    response = await api.http.post("/graphql", content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413


async def test_field_suggestions_are_not_given(api: GraphQLClient) -> None:
    result = await api.execute("{ healt { status } }")
    assert result.error_code == "BAD_USER_INPUT"
    assert "Did you mean" not in result.errors[0]["message"]


async def test_an_unexpected_error_is_masked_as_internal(api: GraphQLClient) -> None:
    # A syntactically valid id that overflows the database's integer is the caller's mistake
    # and must read as NOT_FOUND, never as a stack trace.
    alice = await api.signup("alice")
    result = await api.execute('{ user(id: "99999999999999999999999") { id } }', token=alice.access_token)
    assert result.error_code == "NOT_FOUND"
    assert "Traceback" not in str(result.body)
