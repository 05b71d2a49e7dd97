"""The README's example operations are valid, within the default query limits."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from graphql import DocumentNode, OperationDefinitionNode, parse
from graphql import build_schema as build_graphql_schema

from schema.query_limits import validate_query, validation_rules
from schema.root import build_schema
from services.platform.settings import Limits

README = Path(__file__).resolve().parent.parent / "README.md"


def readme_operations() -> list[DocumentNode]:
    """Each operation of each ```graphql block, as a document of its own."""
    blocks = re.findall(r"```graphql\n(.*?)```", README.read_text(), flags=re.DOTALL)
    return [
        DocumentNode(definitions=(definition,))
        for block in blocks
        for definition in parse(block).definitions
        if isinstance(definition, OperationDefinitionNode)
    ]


@pytest.mark.parametrize("document", readme_operations())
def test_a_readme_example_is_valid_within_the_default_limits(document: DocumentNode) -> None:
    schema = build_graphql_schema(build_schema(Limits()).as_str())
    assert validate_query(schema, document, validation_rules(Limits())) == []
