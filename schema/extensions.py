"""Schema extensions of our own (masking and the token limit come from Strawberry, see schema.root)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Iterator

from graphql import GraphQLError
from graphql.validation import ASTValidationRule
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from schema.context import Context
from schema.errors import internal_error
from services.errors import DomainError

logger = logging.getLogger(__name__)


class DatabaseSession(SchemaExtension):
    """Gives each operation its own context (session, loaders) and commits only if it succeeded."""

    async def on_operation(self) -> AsyncIterator[None]:
        connection_context = self.execution_context.context
        if not isinstance(connection_context, Context):
            yield
            return
        context = connection_context.for_operation()
        self.execution_context.context = context
        try:
            yield
        finally:
            result = self.execution_context.result
            succeeded = result is not None and _keeps_changes(getattr(result, "errors", None))
            try:
                await context.finish(succeeded=succeeded)
            except Exception:
                logger.exception("could not finish the operation's transaction")
                if result is not None:
                    result.data = None
                    result.errors = [internal_error()]

    async def on_execute(self) -> AsyncIterator[None]:
        context = self.execution_context.context
        if isinstance(context, Context) and self.execution_context.operation_type is not OperationType.SUBSCRIPTION:
            # Authenticate first, on a connection of its own that is back in the pool before the
            # operation takes one: holding one while waiting for another deadlocks a busy pool.
            with contextlib.suppress(DomainError):
                await context.actor()
            # Root fields resolve concurrently and share the session; two of them opening its
            # connection at once is an error (on PostgreSQL), so it is open before they start.
            # Subscriptions use short sessions of their own instead of holding one for hours.
            await context.session.connection()
        yield


class ValidationRules(SchemaExtension):
    """Validates with exactly these rules; unlike AddValidationRules it can leave one of
    graphql-core's defaults out (see schema.query_limits)."""

    def __init__(self, rules: tuple[type[ASTValidationRule], ...]) -> None:
        self.rules = rules

    def on_operation(self) -> Iterator[None]:
        self.execution_context.validation_rules = self.rules
        yield


def _keeps_changes(errors: list[GraphQLError] | None) -> bool:
    return all(
        isinstance(error.original_error, DomainError) and error.original_error.keeps_changes
        for error in errors or ()
    )
