"""Anthropic messages (`POST {base}/v1/messages`), plain JSON and SSE streaming."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from tests.fakes.faults import (
    ChatMessage,
    FakeProviderState,
    HttpError,
    Payload,
    error_response,
    respond,
    split_reply,
)
from tests.fakes.openai_chat import conversation

MESSAGE_ID = "msg_fake"

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    429: "rate_limit_error",
    529: "overloaded_error",
}


async def messages(request: Request) -> Response:
    state: FakeProviderState = request.app.state.fake
    body = await request.json()
    state.record(request, body)
    # SDK 2.x sends the key as a bearer token; older clients and curl examples use x-api-key.
    if not (request.headers.get("x-api-key") or request.headers.get("authorization")):
        return error_response(HttpError(401), error_body(401))
    if not isinstance(body.get("max_tokens"), int):
        return error_response(HttpError(400), error_body(400))
    text = state.reply(_conversation(body))
    model = str(body.get("model", ""))
    streaming = bool(body.get("stream"))
    return await respond(
        request,
        state.take_fault(),
        payload=_stream_payload(model, text) if streaming else _json_payload(model, text),
        malformed=_malformed_payload(streaming),
        error_body=error_body,
    )


def _conversation(body: dict[str, Any]) -> list[ChatMessage]:
    """The messages with the `system` parameter first, as the reply function sees them."""
    system = conversation([{"role": "system", "content": body.get("system")}])
    return (system if body.get("system") else []) + conversation(body.get("messages", []))


def error_body(status: int) -> bytes:
    error_type = _ERROR_TYPES.get(status, "api_error")
    error = {"type": error_type, "message": f"fake error {status}"}
    return json.dumps({"type": "error", "error": error}).encode()


def _message(model: str, content: list[dict[str, Any]], output_tokens: int) -> dict[str, Any]:
    return {
        "id": MESSAGE_ID,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": "end_turn" if content else None,
        "stop_sequence": None,
        "usage": {"input_tokens": 1, "output_tokens": output_tokens},
    }


def _json_payload(model: str, text: str) -> Payload:
    message = _message(model, [{"type": "text", "text": text}], len(split_reply(text)))
    return Payload([json.dumps(message).encode()], media_type="application/json")


def _stream_payload(model: str, text: str) -> Payload:
    pieces = split_reply(text)
    events: list[tuple[str, dict[str, Any]]] = [
        ("message_start", {"type": "message_start", "message": _message(model, [], 1)}),
        ("content_block_start", _block_event("content_block_start", {"type": "text", "text": ""})),
        ("ping", {"type": "ping"}),
    ]
    events += [
        ("content_block_delta", _delta_event({"type": "text_delta", "text": piece}))
        for piece in pieces
    ]
    events += [
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": len(pieces)},
            },
        ),
        ("message_stop", {"type": "message_stop"}),
    ]
    chunks = [f"event: {name}\ndata: {json.dumps(data)}\n\n".encode() for name, data in events]
    return Payload(chunks, media_type="text/event-stream", streaming=True)


def _block_event(kind: str, block: dict[str, Any]) -> dict[str, Any]:
    return {"type": kind, "index": 0, "content_block": block}


def _delta_event(delta: dict[str, Any]) -> dict[str, Any]:
    return {"type": "content_block_delta", "index": 0, "delta": delta}


def _malformed_payload(streaming: bool) -> Payload:
    if streaming:
        garbage = b'event: message_start\ndata: {"type": "message_start", "mess\n\n'
        return Payload([garbage], "text/event-stream", True)
    return Payload([b'{"id": "msg_fake", "typ'], media_type="application/json")
