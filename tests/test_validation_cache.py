"""A query text is validated once per schema; refused texts are not remembered."""

from __future__ import annotations

from typing import Any

import pytest
from graphql import GraphQLError

import schema.extensions
from schema.root import build_schema


@pytest.fixture
def validations(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The query texts validated, in order."""
    validated: list[str] = []
    validate = schema.extensions.validate_query

    def counting(graphql_schema: Any, document: Any, rules: Any) -> list[GraphQLError]:
        validated.append(document.loc.source.body)
        return validate(graphql_schema, document, rules)

    monkeypatch.setattr(schema.extensions, "validate_query", counting)
    return validated


async def test_a_query_that_passed_is_not_validated_again(validations: list[str]) -> None:
    app_schema = build_schema()
    for _ in range(3):
        assert (await app_schema.execute("{ __typename }")).errors is None
    assert validations == ["{ __typename }"]


async def test_a_refused_query_is_validated_each_time(validations: list[str]) -> None:
    app_schema = build_schema()
    for _ in range(2):
        assert (await app_schema.execute("{ nothing }")).errors
    assert validations == ["{ nothing }", "{ nothing }"]


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The query texts parsed, in order."""
    import strawberry.schema.schema as strawberry_schema

    parsed: list[str] = []
    parse = strawberry_schema.parse

    def counting(source: str, **options: Any) -> Any:
        parsed.append(source)
        return parse(source, **options)

    monkeypatch.setattr(strawberry_schema, "parse", counting)
    return parsed


async def test_a_query_that_passed_is_not_parsed_again(parses: list[str]) -> None:
    app_schema = build_schema()
    for _ in range(3):
        assert (await app_schema.execute("{ __typename }")).errors is None
    assert parses == ["{ __typename }"]


async def test_a_refused_query_is_parsed_each_time(parses: list[str]) -> None:
    app_schema = build_schema()
    for _ in range(2):
        assert (await app_schema.execute("{ nothing }")).errors
    assert parses == ["{ nothing }", "{ nothing }"]


async def test_big_query_texts_are_not_kept_parsed(parses: list[str]) -> None:
    # Kept documents are many objects each: only small texts are kept parsed.
    big = "{ " + " ".join(f"a{i}: __typename" for i in range(20)) + " }" + " " * 9_000
    app_schema = build_schema()
    for _ in range(2):
        assert (await app_schema.execute(big)).errors is None
    assert len(parses) == 2
