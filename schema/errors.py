"""Every error leaves with an `extensions.code`; anything unexpected leaves as INTERNAL, masked."""

from __future__ import annotations

import logging

from graphql import ExecutionResult as GraphQLExecutionResult
from graphql.error import GraphQLError
from strawberry.types.execution import ExecutionResult as StrawberryExecutionResult
from strawberry.types.execution import StreamExecutionResult

from services.errors import BadInput, Conflict, DomainError, RateLimited
from services.platform.database_unavailable import database_unavailable
from services.platform.write_conflicts import lost_race

logger = logging.getLogger(__name__)

INTERNAL_MESSAGE = "Internal server error"


def domain_error_extensions(error: DomainError) -> dict[str, object]:
    extensions: dict[str, object] = {"code": error.code}
    if isinstance(error, (BadInput, Conflict)) and error.field:
        extensions["field"] = error.field
    if isinstance(error, RateLimited):
        extensions["retryAfterSeconds"] = error.retry_after_seconds
    return extensions


def with_code(error: GraphQLError) -> GraphQLError | None:
    """The error with its code, or None when it must be masked."""
    original = error.original_error
    message = error.message
    if original is not None and (race := lost_race(original)) is not None:
        original, message = race, race.message
    elif original is not None and (down := database_unavailable(original)) is not None:
        original, message = down, down.message
    if isinstance(original, DomainError):
        extensions = domain_error_extensions(original)
    elif original is None or isinstance(original, GraphQLError):
        # Parse, validation, variable-coercion and limit errors: the request itself is wrong.
        extensions = {"code": "BAD_USER_INPUT"}
    else:
        return None
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=original,
        extensions={**(error.extensions or {}), **extensions},
    )


def code_result_errors(result: object) -> None:
    """Gives every error of an operation's result its code, masking the unexpected ones as
    INTERNAL (their traceback goes to the log). Called by schema.extensions.OperationLifecycle
    with the operation's result, and with each streamed (@defer/@stream) result before it
    reaches the client."""
    if isinstance(result, GraphQLExecutionResult | StrawberryExecutionResult):
        _code_errors(result)
    elif (initial := getattr(result, "initial_result", None)) is not None:
        _code_errors(initial)


def code_stream_errors(result: StreamExecutionResult) -> None:
    for part in (result, *(getattr(result, "incremental", None) or ()), *(getattr(result, "completed", None) or ())):
        _code_errors(part)


def _code_errors(result: object) -> None:
    errors = getattr(result, "errors", None)
    if errors:
        result.errors = [coded_or_masked(error) for error in errors]  # type: ignore[attr-defined]


def coded_or_masked(error: GraphQLError) -> GraphQLError:
    if error.extensions and "code" in error.extensions:
        return error  # coded already (a stream's result can pass twice)
    coded = with_code(error)
    if coded is not None:
        return coded
    logger.error("unexpected error", exc_info=error.original_error, extra={"path": error.path})
    return internal_error(error)


def coded_error(error: DomainError) -> GraphQLError:
    return GraphQLError(error.message, original_error=error, extensions=domain_error_extensions(error))


def internal_error(error: GraphQLError | None = None) -> GraphQLError:
    return GraphQLError(
        INTERNAL_MESSAGE,
        nodes=error.nodes if error else None,
        source=error.source if error else None,
        positions=error.positions if error else None,
        path=error.path if error else None,
        extensions={"code": "INTERNAL"},
    )
