"""Counts and times every GraphQL operation (services.platform.metrics), named by its root field."""

from __future__ import annotations

import time

from graphql import FieldNode, GraphQLError, OperationDefinitionNode
from graphql.language import OperationType as OperationTypeNode
from strawberry.types.execution import ExecutionContext

from schema.strawberry_internals import graphql_schema
from services.platform.metrics import Metrics


def observe_operation(metrics: Metrics, context: ExecutionContext, started: float) -> None:
    """Reads what `Metrics.record_operation` records (root field, outcome, time) from a finished
    operation; called by schema.extensions.OperationLifecycle once its result is final."""
    operation = _operation(context)
    subscription = operation is not None and operation.operation is OperationTypeNode.SUBSCRIPTION
    seconds = None if subscription else time.perf_counter() - started
    metrics.record_operation(root_field(context, operation), outcome(context), seconds)


def _operation(context: ExecutionContext) -> OperationDefinitionNode | None:
    """The operation the request runs (by its name, else the first), if its document has it."""
    document = context.graphql_document
    if document is None:
        return None
    name = context.operation_name
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode) and (
            name is None or (definition.name is not None and definition.name.value == name)
        ):
            return definition
    return None


def root_field(context: ExecutionContext, operation: OperationDefinitionNode | None) -> str:
    """The operation's first root field, if the schema has it (a client's typo must not become a
    label value of its own); else "unknown"."""
    if operation is None:
        return "unknown"
    root = graphql_schema(context.schema).get_root_type(operation.operation)
    for selection in operation.selection_set.selections:
        if isinstance(selection, FieldNode) and root is not None and selection.name.value in root.fields:
            return selection.name.value
    return "unknown"


def outcome(context: ExecutionContext) -> str:
    errors: list[GraphQLError] = list(getattr(context.result, "errors", None) or context.pre_execution_errors or [])
    if not errors:
        return "ok"
    code = (errors[0].extensions or {}).get("code")
    return code if isinstance(code, str) and code.isupper() and len(code) <= 40 else "INTERNAL"
