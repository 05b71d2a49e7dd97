"""Input checks shared by the services. Each failure names the input field it is about."""

from __future__ import annotations

import re
import uuid

from services.errors import BadInput, NotFound

MAX_NAME_LENGTH = 200
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
USERNAME_PATTERN = re.compile(r"^[A-Za-z0-9_.-]{3,64}$")


def clean_name(field: str, value: str) -> str:
    name = value.strip()
    if not name:
        raise BadInput(field, "must not be empty")
    if len(name) > MAX_NAME_LENGTH:
        raise BadInput(field, f"must be at most {MAX_NAME_LENGTH} characters long")
    return name


def clean_text(field: str, value: str, *, max_length: int) -> str:
    if len(value) > max_length:
        raise BadInput(field, f"must be at most {max_length} characters long")
    return value


def clean_email(value: str) -> str:
    email = value.strip().lower()
    if len(email) > 320 or not EMAIL_PATTERN.match(email):
        raise BadInput("email", "is not a valid email address")
    return email


def normalize_identifier(value: str) -> str:
    """A login identifier (email or username) as accounts are looked up by it."""
    return value.strip().lower()


def clean_username(value: str) -> str:
    username = value.strip()
    if not USERNAME_PATTERN.match(username):
        raise BadInput(
            "username", "must be 3 to 64 characters: letters, digits, '_', '.' or '-'"
        )
    return username


def parse_int_id(kind: str, value: str) -> int:
    """Ids that cannot exist are simply not found: no hint about what does exist."""
    try:
        parsed = int(value)
    except (TypeError, ValueError):
        raise NotFound(kind, value) from None
    if parsed <= 0 or parsed >= 2**63:
        raise NotFound(kind, value)
    return parsed


def parse_uuid(kind: str, value: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise NotFound(kind, value) from None
