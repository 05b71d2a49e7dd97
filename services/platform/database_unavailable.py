"""The database cannot take a request now (refusing connections, too many clients, shutting
down, a full pool): the client hears UNAVAILABLE and may retry, instead of an internal error."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from services.errors import Unavailable

# SQLSTATE classes and codes of a database that is there but will not serve: connection
# exceptions (08), insufficient resources (53, "too many clients" is 53300), shutting down or
# starting up (57P01-57P03), not accepting connections (55000: ALLOW_CONNECTIONS false, as
# during maintenance).
_UNAVAILABLE_SQLSTATE_CLASSES = ("08", "53")
_UNAVAILABLE_SQLSTATES = ("57P01", "57P02", "57P03", "55000")
MESSAGE = "the database is unavailable or overloaded right now; try again shortly"


def database_unavailable(error: BaseException) -> Unavailable | None:
    """UNAVAILABLE for an error that says the database cannot serve now; None for any other."""
    if isinstance(error, PoolTimeout | ConnectionError):
        return Unavailable(MESSAGE)
    if isinstance(error, DBAPIError):
        sqlstate = getattr(error.orig, "sqlstate", None) or ""
        cause = error.orig.__cause__ if error.orig is not None else None
        if (
            error.connection_invalidated
            or sqlstate[:2] in _UNAVAILABLE_SQLSTATE_CLASSES
            or sqlstate in _UNAVAILABLE_SQLSTATES
            or isinstance(cause, ConnectionError)
        ):
            return Unavailable(MESSAGE)
    return None
