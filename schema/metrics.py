"""Counts and times every GraphQL operation (services.metrics), named by its root field."""

from __future__ import annotations

import time

from graphql import FieldNode, GraphQLError, OperationDefinitionNode
from strawberry.types.execution import ExecutionContext
from strawberry.types.graphql import OperationType

from services import metrics


def record_operation(context: ExecutionContext, started: float) -> None:
    """Called by schema.extensions.OperationLifecycle once the operation's result is final."""
    seconds = None if _is_subscription(context) else time.perf_counter() - started
    metrics.record_operation(root_field(context), outcome(context), seconds)


def _is_subscription(context: ExecutionContext) -> bool:
    try:
        return context.operation_type is OperationType.SUBSCRIPTION
    except RuntimeError:  # no document (a syntax error), or no such operation in it
        return False


def root_field(context: ExecutionContext) -> str:
    """The operation's first root field, if the schema has it (a client's typo must not become a
    label value of its own); else "unknown"."""
    document = context.graphql_document
    if document is None:
        return "unknown"
    schema = context.schema._schema
    for definition in document.definitions:
        if not isinstance(definition, OperationDefinitionNode):
            continue
        if context.operation_name is not None and (definition.name is None or definition.name.value != context.operation_name):
            continue
        root = schema.get_root_type(definition.operation)
        for selection in definition.selection_set.selections:
            if isinstance(selection, FieldNode) and root is not None and selection.name.value in root.fields:
                return selection.name.value
        break
    return "unknown"


def outcome(context: ExecutionContext) -> str:
    errors: list[GraphQLError] = list(getattr(context.result, "errors", None) or context.pre_execution_errors or [])
    if not errors:
        return "ok"
    code = (errors[0].extensions or {}).get("code")
    return code if isinstance(code, str) and code.isupper() and len(code) <= 40 else "INTERNAL"
