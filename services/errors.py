"""The domain's typed errors. Each carries the code that clients see in `extensions.code`."""

from __future__ import annotations


class DomainError(Exception):
    code = "INTERNAL"
    # Most errors undo the operation. A few report a refusal whose side effect must stand,
    # e.g. revoking a session whose refresh token leaked.
    keeps_changes = False

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Unauthenticated(DomainError):
    code = "UNAUTHENTICATED"


class SessionRevoked(Unauthenticated):
    keeps_changes = True


class InvalidToken(Unauthenticated):
    """Not a token of ours, or not of the kind expected."""


class TokenExpired(Unauthenticated):
    """A genuine token past its lifetime: refresh it and try again."""


class SessionEnded(Unauthenticated):
    """The token's login session was closed (logout, or a leaked refresh token)."""


class AccountDeleted(SessionEnded):
    """The token's account no longer exists."""


class Forbidden(DomainError):
    code = "FORBIDDEN"


class NotFound(DomainError):
    code = "NOT_FOUND"

    def __init__(self, kind: str, object_id: object) -> None:
        super().__init__(f"{kind} {object_id} not found")


class BadInput(DomainError):
    """Invalid input; `field` names the offending input (a dotted path for nested values)."""

    code = "BAD_USER_INPUT"

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field


class Conflict(DomainError):
    """The request clashes with the current state; `field` names the input that clashes."""

    code = "CONFLICT"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class RateLimited(DomainError):
    code = "RATE_LIMITED"

    def __init__(self, message: str, retry_after_seconds: int) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


class ShuttingDown(DomainError):
    """This server is stopping and takes no new work; another instance (or a retry later) will."""

    code = "SHUTTING_DOWN"


class Unavailable(DomainError):
    """Something the request needs (the database, the run queue) cannot take it now; a retry
    shortly may succeed."""

    code = "UNAVAILABLE"
