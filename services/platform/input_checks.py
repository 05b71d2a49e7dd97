"""Input checks shared by the services. Each failure names the input field it is about."""

from __future__ import annotations

import math
import re
import uuid

from services.errors import BadInput, NotFound

MAX_NAME_LENGTH = 200
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
USERNAME_PATTERN = re.compile(r"^[A-Za-z0-9_.-]{3,64}$")
# Integer ids are 32-bit (SERIAL on PostgreSQL): a larger one cannot exist, and cannot be queried.
MAX_INT_ID = 2**31 - 1
# Integers beyond this lose digits in a JavaScript client's JSON.parse (and in a double).
MAX_SAFE_INTEGER = 2**53 - 1
# PostgreSQL refuses NUL in text and JSON; a lone UTF-16 surrogate has no UTF-8 encoding. A valid
# surrogate pair arrives from JSON as one code point, so any surrogate left in a str is lone.
_UNSTORABLE_CHARACTER = re.compile("[\x00\ud800-\udfff]")


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
    if not 0 < parsed <= MAX_INT_ID:
        raise NotFound(kind, value)
    return parsed


def parse_uuid(kind: str, value: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise NotFound(kind, value) from None


def check_text(field: str, value: str) -> None:
    """Refuses text that a database cannot store: a NUL character or a lone surrogate."""
    found = _UNSTORABLE_CHARACTER.search(value)
    if found is None:
        return
    if found.group() == "\x00":
        raise BadInput(field, "must not contain NUL characters (\\u0000)")
    raise BadInput(field, "must not contain unpaired UTF-16 surrogates (\\ud800-\\udfff)")


def check_json_value(field: str, value: object, *, max_depth: int) -> None:
    """Refuses a client's JSON value that could not be stored and sent back as standard JSON:
    NaN or an infinity, an integer beyond MAX_SAFE_INTEGER, text or keys that `check_text`
    refuses, or arrays and objects nested more than `max_depth` deep. The walk is iterative, so
    no nesting exhausts the stack; the error names the member, e.g. graphData.nodes[3].data."""
    pending: list[tuple[str, object, int]] = [(field, value, 0)]
    while pending:
        path, item, depth = pending.pop()
        if isinstance(item, str):
            check_text(path, item)
        elif isinstance(item, bool) or item is None:
            continue
        elif isinstance(item, int):
            if abs(item) > MAX_SAFE_INTEGER:
                raise BadInput(path, f"must be a whole number between -{MAX_SAFE_INTEGER} and {MAX_SAFE_INTEGER}")
        elif isinstance(item, float):
            if not math.isfinite(item):
                raise BadInput(path, "must be a finite number (NaN and Infinity are not JSON)")
        elif isinstance(item, (dict, list)):
            if depth >= max_depth:
                raise BadInput(path, f"is nested more than {max_depth} levels deep")
            pending.extend(reversed(_members(path, item, depth + 1)))


def _members(path: str, container: dict[object, object] | list[object], depth: int) -> list[tuple[str, object, int]]:
    if isinstance(container, list):
        return [(f"{path}[{index}]", member, depth) for index, member in enumerate(container)]
    members = []
    for key, member in container.items():
        if not isinstance(key, str):
            raise BadInput(path, "must have text keys")
        if _UNSTORABLE_CHARACTER.search(key):
            raise BadInput(path, "must not have keys with NUL characters or unpaired UTF-16 surrogates")
        members.append((f"{path}.{key}", member, depth))
    return members
