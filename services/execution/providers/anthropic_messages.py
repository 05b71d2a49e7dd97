"""Text from Claude through the Anthropic messages API.

Named so it does not shadow the `anthropic` SDK package. As for the OpenAI-compatible client,
the SDK's client builds the request once (URL, auth, its headers) and makes its exceptions of
error statuses; each call sends it with a body built here and reads the stream as raw SSE.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping, Sequence

import httpx2

from services.execution.providers.base import Message, TextRequest
from services.execution.providers.retry import AttemptFailed, error_detail
from services.execution.providers.sdk_internals import ANTHROPIC
from services.execution.providers.sse import event_batches
from services.execution.providers.streaming import StreamingTextProvider
from services.execution.providers.wire import json_body

# The messages API requires max_tokens; this is used when the request leaves it open.
DEFAULT_MAX_TOKENS = 2048

# Error types an `error` event may carry mid-stream that another attempt may not meet.
TRANSIENT_STREAM_ERRORS = frozenset({"overloaded_error", "api_error", "rate_limit_error"})


class AnthropicProvider(StreamingTextProvider):
    sdk = ANTHROPIC
    path = "/v1/messages"

    def _body(self, request: TextRequest) -> bytes:
        return body(request)

    async def _pieces(self, response: httpx2.Response) -> AsyncGenerator[str, None]:
        finished = False
        # This SDK does not wrap network errors mid-stream: _read_failures does.
        with self._read_failures:
            async for events in event_batches(response.aiter_bytes()):
                for event in events:
                    if event.event == "ping":
                        continue
                    data = event.json()
                    kind = data.get("type") if isinstance(data, dict) else None
                    if event.event == "error" or kind == "error":
                        raise self._stream_error(data)
                    if kind == "content_block_delta" and (text := _delta_text(data)):
                        yield text
                    elif kind == "message_stop":
                        finished = True
        if not finished:
            # The protocol always ends with message_stop; without it the reply may be cut short.
            raise AttemptFailed("the stream ended before the reply was complete", retryable=True)

    def _stream_error(self, body: object) -> AttemptFailed:
        """An `error` event inside a stream that had started with a 200."""
        error = body.get("error") if isinstance(body, Mapping) else None
        error_type = error.get("type") if isinstance(error, Mapping) else None
        detail = error_detail(body, secret=self._api_key) or str(error_type or "no details")
        return AttemptFailed(
            f"reported an error: {detail}", retryable=error_type in TRANSIENT_STREAM_ERRORS
        )


def body(request: TextRequest) -> bytes:
    """The messages request's JSON body, streamed; unset options left out."""
    system, messages = split_system(request.messages)
    payload: dict[str, object] = {
        "model": request.model,
        "max_tokens": request.max_tokens or DEFAULT_MAX_TOKENS,
        "messages": messages,
        "stream": True,
    }
    if system:
        payload["system"] = system
    # SDK 1.0 dropped sampling parameters from its signature; the API still takes them on
    # models that support sampling, so they go in the body when asked for.
    if request.temperature is not None:
        payload["temperature"] = request.temperature
    return json_body(payload)


def split_system(messages: Sequence[Message]) -> tuple[str, list[dict[str, str]]]:
    """System messages become the `system` parameter; the rest stay in order."""
    system = "\n\n".join(m.content for m in messages if m.role == "system")
    rest = [_message(m) for m in messages if m.role != "system"]
    return system, rest


def _message(message: Message) -> dict[str, str]:
    role = "assistant" if message.role == "assistant" else "user"
    return {"role": role, "content": message.content}


def _delta_text(event: dict[str, object]) -> str:
    delta = event.get("delta")
    if isinstance(delta, dict) and delta.get("type") == "text_delta":
        text = delta.get("text")
        return text if isinstance(text, str) else ""
    return ""
