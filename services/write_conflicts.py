"""Writes that lost a race: the database refused them, and the client gets the answer it would
have had, had it come second (the services' own checks cannot see an uncommitted rival)."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from db.constraints import violated_unique_columns
from services.errors import Conflict, DomainError

# The unique columns a client chooses the value of, and what a client hears when it is taken.
# Other unique constraints (run events, the catalog) are the server's own: breaking one is a bug.
TAKEN_MESSAGES = {
    "email": "an account with this email already exists",
    "username": "this username is taken",
}


def taken(field: str) -> Conflict:
    return Conflict(f"{field}: {TAKEN_MESSAGES[field]}", field=field)


def stale_version() -> Conflict:
    return Conflict(
        "version: it was changed by someone else since you read it; reload it and apply your change again",
        field="version",
    )


def lost_race(error: BaseException) -> DomainError | None:
    """The domain error for a write refused because a concurrent one won; None for any other."""
    if isinstance(error, StaleDataError):
        # The version column's `AND version = :read` matched nothing: another update came first.
        return stale_version()
    if isinstance(error, IntegrityError):
        columns = violated_unique_columns(error)
        if columns and len(columns) == 1 and columns[0] in TAKEN_MESSAGES:
            return taken(columns[0])
    return None
