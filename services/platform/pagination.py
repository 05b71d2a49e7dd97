"""Relay-style pages: `first` items after an opaque cursor, bounded by the page-size limit."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from db.repositories.base import PageRows
from services.errors import BadInput

DEFAULT_PAGE_SIZE = 20
# Far beyond any list we hold, and safe from overflow as an OFFSET on both databases.
MAX_CURSOR_OFFSET = 2**31 - 1
_CURSOR_PREFIX = "offset:"

Item = TypeVar("Item")
Mapped = TypeVar("Mapped")


@dataclass(frozen=True)
class PageRequest:
    offset: int
    limit: int


@dataclass(frozen=True)
class Page(Generic[Item]):
    items: Sequence[Item]
    offset: int
    has_next_page: bool
    count: Callable[[], Awaitable[int]]  # the total number of items, counted when awaited

    def cursor(self, index: int) -> str:
        return encode_cursor(self.offset + index)

    def map(self, function: Callable[[Item], Mapped]) -> Page[Mapped]:
        return Page([function(item) for item in self.items], self.offset, self.has_next_page, self.count)

    @classmethod
    def from_rows(cls, rows: PageRows[Item]) -> Page[Item]:
        return cls(items=rows.rows, offset=rows.offset, has_next_page=rows.has_more, count=rows.count)


def encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"{_CURSOR_PREFIX}{offset}".encode()).decode()


def decode_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
        if not text.startswith(_CURSOR_PREFIX):
            raise ValueError(cursor)
        offset = int(text.removeprefix(_CURSOR_PREFIX))
    except (ValueError, UnicodeError, binascii.Error):
        raise BadInput("after", "is not a cursor this API gave out") from None
    if not 0 <= offset <= MAX_CURSOR_OFFSET:
        raise BadInput("after", "is not a cursor this API gave out")
    return offset


def page_request(first: int | None, after: str | None, *, max_page_size: int) -> PageRequest:
    limit = min(DEFAULT_PAGE_SIZE, max_page_size) if first is None else first
    if limit < 0:
        raise BadInput("first", "must not be negative")
    if limit > max_page_size:
        raise BadInput("first", f"must be at most {max_page_size}")
    offset = 0 if after is None else decode_cursor(after) + 1
    return PageRequest(offset=offset, limit=limit)
