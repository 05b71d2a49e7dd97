"""Every error leaves with an `extensions.code`; anything unexpected leaves as INTERNAL, masked."""

from __future__ import annotations

import logging

from graphql.error import GraphQLError
from strawberry.extensions import MaskErrors

from services.errors import BadInput, Conflict, DomainError, RateLimited
from services.write_conflicts import lost_race

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


class CodedMaskErrors(MaskErrors):
    def __init__(self) -> None:
        super().__init__(error_message=INTERNAL_MESSAGE)

    def _process_errors(self, errors: list[GraphQLError]) -> list[GraphQLError]:
        return [self._process(error) for error in errors]

    def _process(self, error: GraphQLError) -> GraphQLError:
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
