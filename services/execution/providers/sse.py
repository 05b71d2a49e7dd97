"""Server-sent events read straight off a streamed HTTP response.

The SDKs send the request (auth, base URL, status errors), but turning every chunk of a reply
into a pydantic model costs more CPU than the few characters it carries: the text clients read
the response's lines themselves and parse each event's JSON with orjson.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import orjson


@dataclass(frozen=True, slots=True)
class ServerSentEvent:
    event: str  # "message" when the event has no name
    data: str

    def json(self) -> Any:
        """The data as JSON; ValueError when it is not."""
        try:
            return orjson.loads(self.data)
        except orjson.JSONDecodeError:
            # orjson refuses an escaped lone surrogate, which JSON allows (storable() mends it).
            return json.loads(self.data)


async def server_sent_events(lines: AsyncIterator[str]) -> AsyncIterator[ServerSentEvent]:
    """Events as the SSE format delimits them: fields up to a blank line; comments skipped."""
    event, data = "message", list[str]()
    async for line in lines:
        if not line:
            if data:
                yield ServerSentEvent(event, "\n".join(data))
            event, data = "message", []
            continue
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "data":
            data.append(value)
        elif name == "event":
            event = value
    if data:
        yield ServerSentEvent(event, "\n".join(data))
