"""What a fake provider should do wrong next, what it received, and the responses that do it.

A test drives the fakes through one `FakeProviderState`: queue faults with `fail_next` (each
request consumes one), or set `persistent` for a fault every request gets once the queue is
empty. The state records every request and the peak number of requests in flight.
"""

from __future__ import annotations

import asyncio
import re
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from tests.waiting import stall


@dataclass(frozen=True)
class HttpError:
    """Answer with this status (and an error body in the protocol's format)."""

    status: int
    retry_after: str | None = None


@dataclass(frozen=True)
class Delay:
    """Wait this long before sending the response headers."""

    seconds: float


@dataclass(frozen=True)
class SlowChunks:
    """Wait this long before each chunk of a streamed body after the first `after_chunks`."""

    seconds: float
    after_chunks: int = 0


@dataclass(frozen=True)
class Malformed:
    """Answer 200 with a body the protocol's client cannot parse."""


@dataclass(frozen=True)
class Drop:
    """Send the headers and `after_chunks` body chunks, then close the connection."""

    after_chunks: int = 0


Fault = HttpError | Delay | SlowChunks | Malformed | Drop

ChatMessage = dict[str, str]
Reply = Callable[[list[ChatMessage]], str]


def echo_reply(messages: list[ChatMessage]) -> str:
    last_user = next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")
    return f"fake reply to: {last_user}"


@dataclass(frozen=True)
class RecordedRequest:
    path: str
    headers: Mapping[str, str]
    json: Any
    client_port: int | None = None  # tells the client's connections apart


@dataclass
class FakeProviderState:
    reply: Reply = echo_reply
    persistent: Fault | None = None
    faults: deque[Fault] = field(default_factory=deque)
    requests: list[RecordedRequest] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    # Requests whose client hung up during a Delay, before any response was sent.
    abandoned_while_delayed: int = 0
    # Pauses of SlowChunks that ran their full length (the chunk after them was then sent).
    pauses_sat_out: int = 0

    def fail_next(self, *faults: Fault) -> None:
        self.faults.extend(faults)

    def take_fault(self) -> Fault | None:
        return self.faults.popleft() if self.faults else self.persistent

    def record(self, request: Request, body: Any) -> None:
        headers = {key.lower(): value for key, value in request.headers.items()}
        port = request.client.port if request.client else None
        self.requests.append(
            RecordedRequest(path=request.url.path, headers=headers, json=body, client_port=port)
        )

    def paths(self) -> list[str]:
        return [request.path for request in self.requests]


def split_reply(text: str) -> list[str]:
    """Word-sized pieces (trailing spaces kept), so a stream has several chunks."""
    return re.findall(r"\S+\s*|\s+", text) or [""]


@dataclass(frozen=True)
class Payload:
    """A response body as the chunks it is sent in."""

    chunks: Sequence[bytes]
    media_type: str
    streaming: bool = False
    headers: Mapping[str, str] = field(default_factory=dict)


def error_response(fault: HttpError, body: bytes) -> Response:
    headers = {"retry-after": fault.retry_after} if fault.retry_after is not None else {}
    return Response(body, status_code=fault.status, media_type="application/json", headers=headers)


async def respond(
    request: Request,
    fault: Fault | None,
    *,
    payload: Payload,
    malformed: Payload,
    error_body: Callable[[int], bytes],
) -> Response:
    """The response `payload` becomes under `fault`."""
    if isinstance(fault, Delay):
        await _pause(request, fault.seconds)
    if isinstance(fault, HttpError):
        return error_response(fault, error_body(fault.status))
    if isinstance(fault, Malformed):
        payload = malformed
    if isinstance(fault, Drop):
        return _DroppedResponse(payload, after_chunks=fault.after_chunks)
    if payload.streaming:
        pace = fault if isinstance(fault, SlowChunks) else SlowChunks(0.0)
        return StreamingResponse(
            _paced(payload.chunks, pace, request.app.state.fake), media_type=payload.media_type, headers=payload.headers
        )
    body = b"".join(payload.chunks)
    return Response(body, media_type=payload.media_type, headers=payload.headers)


async def _paced(chunks: Sequence[bytes], pace: SlowChunks, state: FakeProviderState) -> AsyncIterator[bytes]:
    for index, chunk in enumerate(chunks):
        if pace.seconds and index >= pace.after_chunks:
            await stall(pace.seconds)
            state.pauses_sat_out += 1
        yield chunk


async def _pause(request: Request, seconds: float) -> None:
    # Stop waiting once the client hangs up, as a real server would stop working on it.
    try:
        await asyncio.wait_for(_until_disconnected(request), seconds)
    except TimeoutError:
        return
    request.app.state.fake.abandoned_while_delayed += 1


async def _until_disconnected(request: Request) -> None:
    while (await request.receive())["type"] != "http.disconnect":
        pass


class _DroppedResponse(Response):
    """Starts the response, sends part of the body, then returns: uvicorn closes the socket."""

    def __init__(self, payload: Payload, *, after_chunks: int) -> None:
        super().__init__(media_type=payload.media_type, headers=payload.headers)
        self.payload = payload
        self.after_chunks = after_chunks

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(k, v) for k, v in self.raw_headers if k != b"content-length"]
        if not self.payload.streaming:
            # Announce the full length so the client knows the body was cut short.
            full_length = sum(len(chunk) for chunk in self.payload.chunks)
            headers.append((b"content-length", str(full_length).encode()))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        for chunk in self.payload.chunks[: self.after_chunks]:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
