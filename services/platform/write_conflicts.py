"""Writes that lost a race: the database refused them, and the client gets the answer it would
have had, had it come second (the services' own checks cannot see an uncommitted rival): a stale
version or a taken name is a CONFLICT, a row deleted under the write is NOT_FOUND."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from db.constraints import violated_foreign_key, violated_unique_columns
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


class DeletedMeanwhile(DomainError):
    """What the request refers to was there when it looked, and deleted before it wrote."""

    code = "NOT_FOUND"

    def __init__(self, table: str) -> None:
        what = f"the {table.removesuffix('s').replace('_', ' ')}" if table else "what it refers to"
        super().__init__(f"{what} was deleted while this request ran")


def lost_race(error: BaseException) -> DomainError | None:
    """The domain error for a write refused because a concurrent one won; None for any other."""
    if isinstance(error, StaleDataError):
        # The version column's `AND version = :read` matched nothing: another update came first.
        return stale_version()
    if isinstance(error, IntegrityError):
        columns = violated_unique_columns(error)
        if columns and len(columns) == 1 and columns[0] in TAKEN_MESSAGES:
            return taken(columns[0])
        referred = violated_foreign_key(error)
        if referred is not None:
            return DeletedMeanwhile(referred)
    return None
