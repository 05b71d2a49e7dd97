"""Server-sent events read straight off a streamed HTTP response, as bytes.

The SDKs send the request (auth, base URL, status errors), but turning every chunk of a reply
into a pydantic model costs more CPU than the few characters it carries: the text clients read
the response's bytes themselves, cut them into events here and parse each event's JSON with
orjson. Nothing is decoded to str but an event's name and the text the caller takes out of the
JSON.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any, NamedTuple

import orjson

DATA = b"data"
EVENT = b"event"


class ServerSentEvent(NamedTuple):
    event: str  # "message" when the event has no name
    data: bytes

    def json(self) -> Any:
        """The data as JSON; ValueError when it is not."""
        try:
            return orjson.loads(self.data)
        except orjson.JSONDecodeError:
            # orjson refuses an escaped lone surrogate, which JSON allows (storable() mends it).
            return json.loads(self.data)


class EventDecoder:
    """Cuts a byte stream into events as the SSE format delimits them: fields up to a blank
    line; comments and fields other than `event` and `data` skipped. Lines end in LF, CRLF or CR.
    """

    __slots__ = ("_data", "_event", "_partial")

    def __init__(self) -> None:
        self._partial = b""  # the start of a line whose end has not arrived yet
        self._event = "message"
        self._data: list[bytes] = []

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        """The events that `chunk` completes."""
        buffer = self._partial + chunk if self._partial else chunk
        held = b""
        if b"\r" in buffer:
            if buffer.endswith(b"\r"):  # maybe the first half of a CRLF: wait for the next byte
                buffer, held = buffer[:-1], b"\r"
            buffer = buffer.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        lines = buffer.split(b"\n")
        self._partial = lines.pop() + held
        return self._lines(lines)

    def end(self) -> list[ServerSentEvent]:
        """The last event, when the stream ends without the blank line that closes it."""
        partial, self._partial = self._partial.rstrip(b"\r"), b""
        return self._lines([partial, b""] if partial else [b""])

    def _lines(self, lines: list[bytes]) -> list[ServerSentEvent]:
        events: list[ServerSentEvent] = []
        data = self._data
        for line in lines:
            if not line:
                if data:
                    joined = data[0] if len(data) == 1 else b"\n".join(data)
                    events.append(ServerSentEvent(self._event, joined))
                    data = self._data = []
                self._event = "message"
                continue
            name, colon, value = line.partition(b":")
            if colon and value[:1] == b" ":
                value = value[1:]
            if name == DATA:
                data.append(value)
            elif name == EVENT:
                self._event = value.decode("utf-8", "replace") or "message"
        return events


async def event_batches(chunks: AsyncIterator[bytes]) -> AsyncIterator[list[ServerSentEvent]]:
    """The events of a response, a list per chunk read off the network (often several at once:
    one await per read rather than one per event)."""
    decoder = EventDecoder()
    async for chunk in chunks:
        if events := decoder.feed(chunk):
            yield events
    if events := decoder.end():
        yield events
