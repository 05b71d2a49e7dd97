"""Text from any provider speaking OpenAI chat completions (Mistral, GLM, OpenRouter, HF).

The SDK's client builds the request once (StreamingTextProvider) and turns error statuses into
its exceptions; each call sends it with a body serialised by orjson and reads the stream as raw
SSE (sse.py). The typed `chat.completions.create` would transform the parameters through its
TypedDicts on every call and parse every chunk into pydantic models.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator

import httpx2

from services.execution.providers.base import TextRequest
from services.execution.providers.retry import AttemptFailed, error_detail, malformed
from services.execution.providers.sdk_internals import OPENAI
from services.execution.providers.sse import event_batches
from services.execution.providers.streaming import StreamingTextProvider
from services.execution.providers.wire import json_body

DONE = b"[DONE]"


class OpenAICompatibleProvider(StreamingTextProvider):
    sdk = OPENAI
    path = "/chat/completions"

    def _body(self, request: TextRequest) -> bytes:
        return body(request)

    async def _pieces(self, response: httpx2.Response) -> AsyncGenerator[str, None]:
        chunks = 0
        done = False
        with self._read_failures:
            async for events in event_batches(response.aiter_bytes()):
                # After [DONE] the body is read to its end all the same: a response left unread
                # closes its connection instead of returning it to the pool for the next call.
                for event in events:
                    done = done or event.data.startswith(DONE)
                    if done:
                        break
                    chunk = event.json()
                    if event.event == "error" or (isinstance(chunk, dict) and chunk.get("error")):
                        raise self._stream_error(chunk)
                    chunks += 1
                    if text := _text_of(chunk):
                        yield text
        if chunks == 0:
            # A 200 whose body held no event at all is not an empty reply but a broken one.
            raise malformed()

    def _stream_error(self, body: object) -> AttemptFailed:
        """An error event inside a stream that had started fine."""
        detail = error_detail(body, secret=self._api_key) or "no details"
        return AttemptFailed(f"reported an error: {detail}", retryable=False)


def body(request: TextRequest) -> bytes:
    """The chat completion's JSON body, streamed; unset options left out."""
    payload: dict[str, object] = {
        "model": request.model,
        "messages": [{"role": m.role, "content": m.content} for m in request.messages],
        "stream": True,
    }
    if request.temperature is not None:
        payload["temperature"] = request.temperature
    if request.max_tokens is not None:
        payload["max_tokens"] = request.max_tokens
    return json_body(payload)


def _text_of(chunk: object) -> str:
    # Providers send chunks without choices (usage, keep-alives) and choices without content.
    choices = chunk.get("choices") if isinstance(chunk, dict) else None
    first = choices[0] if isinstance(choices, list) and choices else None
    delta = first.get("delta") if isinstance(first, dict) else None
    content = delta.get("content") if isinstance(delta, dict) else None
    return content if isinstance(content, str) else ""
