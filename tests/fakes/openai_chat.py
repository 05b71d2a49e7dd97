"""OpenAI chat completions (`POST {base}/chat/completions`), plain JSON and SSE streaming."""

from __future__ import annotations

import json
import time
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

COMPLETION_ID = "chatcmpl-fake"


async def chat_completions(request: Request) -> Response:
    state: FakeProviderState = request.app.state.fake
    body = await request.json()
    state.record(request, body)
    if not request.headers.get("authorization", "").startswith("Bearer "):
        return error_response(HttpError(401), error_body(401))
    text = state.reply(conversation(body.get("messages", [])))
    model = str(body.get("model", ""))
    streaming = bool(body.get("stream"))
    return await respond(
        request,
        state.take_fault(),
        payload=_stream_payload(model, text) if streaming else _json_payload(model, text),
        malformed=_malformed_payload(streaming),
        error_body=error_body,
    )


def conversation(messages: list[dict[str, Any]]) -> list[ChatMessage]:
    return [{"role": str(m.get("role")), "content": _text_of(m.get("content"))} for m in messages]


def _text_of(content: Any) -> str:
    if isinstance(content, list):  # content parts: [{"type": "text", "text": ...}]
        return "".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return str(content or "")


def error_body(status: int) -> bytes:
    error = {"message": f"fake error {status}", "type": "fake_error", "param": None, "code": None}
    return json.dumps({"error": error}).encode()


def _json_payload(model: str, text: str) -> Payload:
    completion = {
        "id": COMPLETION_ID,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text, "refusal": None},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "usage": _usage(text),
    }
    return Payload([json.dumps(completion).encode()], media_type="application/json")


def _stream_payload(model: str, text: str) -> Payload:
    deltas: list[dict[str, Any]] = [{"role": "assistant", "content": ""}]
    deltas += [{"content": piece} for piece in split_reply(text)]
    chunks = [_chunk(model, delta, finish_reason=None) for delta in deltas]
    chunks.append(_chunk(model, {}, finish_reason="stop"))
    events = [f"data: {json.dumps(chunk)}\n\n".encode() for chunk in chunks]
    events.append(b"data: [DONE]\n\n")
    return Payload(events, media_type="text/event-stream", streaming=True)


def _chunk(model: str, delta: dict[str, Any], *, finish_reason: str | None) -> dict[str, Any]:
    return {
        "id": COMPLETION_ID,
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}],
    }


def _usage(text: str) -> dict[str, int]:
    completion_tokens = len(split_reply(text))
    return {
        "prompt_tokens": 1,
        "completion_tokens": completion_tokens,
        "total_tokens": 1 + completion_tokens,
    }


def _malformed_payload(streaming: bool) -> Payload:
    if streaming:
        return Payload([b'data: {"id": "chatcmpl-fake", "choi\n\n'], "text/event-stream", True)
    return Payload([b'{"id": "chatcmpl-fake", "choi'], media_type="application/json")
