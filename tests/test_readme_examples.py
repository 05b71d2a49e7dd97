"""The example operations of the README and docs/ are valid, within the default query limits."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from graphql import DocumentNode, OperationDefinitionNode, parse

from schema.query_limits import validate_query, validation_rules
from schema.root import build_schema
from schema.strawberry_internals import graphql_schema
from services.platform.settings import Limits

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def readme_operations() -> list[DocumentNode]:
    """Each operation of each ```graphql block, as a document of its own."""
    blocks = [
        block
        for document in DOCUMENTS
        for block in re.findall(r"```graphql\n(.*?)```", document.read_text(), flags=re.DOTALL)
    ]
    return [
        DocumentNode(definitions=(definition,))
        for block in blocks
        for definition in parse(block).definitions
        if isinstance(definition, OperationDefinitionNode)
    ]


@pytest.mark.parametrize("document", readme_operations())
def test_a_readme_example_is_valid_within_the_default_limits(document: DocumentNode) -> None:
    schema = build_schema(Limits())
    assert validate_query(graphql_schema(schema), document, validation_rules(Limits())) == []
