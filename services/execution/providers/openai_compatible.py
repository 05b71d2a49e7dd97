"""Text from any provider speaking OpenAI chat completions (Mistral, GLM, OpenRouter, HF)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

import httpx2
import openai
from openai.types.chat import ChatCompletionChunk, ChatCompletionMessageParam

from services.execution.providers.base import Message, TextRequest
from services.execution.providers.known import ProviderInfo
from services.execution.providers.retry import (
    AttemptFailed,
    RetryPolicy,
    connection_failed,
    error_detail,
    malformed,
    status_failure,
    timed_out,
    transport_failure,
)
from services.execution.providers.sse import server_sent_events
from services.execution.providers.streaming import StreamingTextProvider


class OpenAICompatibleProvider(StreamingTextProvider["openai.AsyncStream[ChatCompletionChunk]"]):
    def __init__(
        self,
        info: ProviderInfo,
        *,
        api_key: str,
        base_url: str,
        policy: RetryPolicy,
        semaphore: asyncio.Semaphore,
    ) -> None:
        super().__init__(info, api_key=api_key, policy=policy, semaphore=semaphore)
        self._client = openai.AsyncOpenAI(
            api_key=api_key, base_url=base_url, timeout=policy.timeout, max_retries=0
        )

    async def aclose(self) -> None:
        await self._client.close()

    async def _open(self, request: TextRequest) -> openai.AsyncStream[ChatCompletionChunk]:
        try:
            return await self._client.chat.completions.create(
                model=request.model,
                messages=[_message(message) for message in request.messages],
                temperature=openai.omit if request.temperature is None else request.temperature,
                max_tokens=openai.omit if request.max_tokens is None else request.max_tokens,
                stream=True,
            )
        except openai.APIError as error:
            raise self._failure(error) from error

    async def _pieces(
        self, stream: openai.AsyncStream[ChatCompletionChunk]
    ) -> AsyncGenerator[str, None]:
        chunks = 0
        done = False
        try:
            async for event in server_sent_events(stream.response.aiter_lines()):
                # After [DONE] the body is read to its end all the same: a response left unread
                # closes its connection instead of returning it to the pool for the next call.
                done = done or event.data.startswith("[DONE]")
                if done:
                    continue
                chunk = event.json()
                if event.event == "error" or (isinstance(chunk, dict) and chunk.get("error")):
                    raise self._stream_error(chunk)
                chunks += 1
                if text := _text_of(chunk):
                    yield text
        except httpx2.TransportError as error:
            raise transport_failure(error, timeout=self._policy.timeout) from error
        except ValueError as error:  # JSON or schema errors in an event
            raise malformed() from error
        if chunks == 0:
            # A 200 whose body held no event at all is not an empty reply but a broken one.
            raise malformed()

    def _failure(self, error: openai.APIError) -> AttemptFailed:
        if isinstance(error, openai.APITimeoutError):
            return timed_out(self._policy.timeout)
        if isinstance(error, openai.APIConnectionError):
            return connection_failed()
        if isinstance(error, openai.APIStatusError):
            return status_failure(
                error.status_code, error.response.headers, error.body, secret=self._api_key
            )
        return self._stream_error(error.body)

    def _stream_error(self, body: object) -> AttemptFailed:
        """An error event inside a stream that had started fine."""
        detail = error_detail(body, secret=self._api_key) or "no details"
        return AttemptFailed(f"reported an error: {detail}", retryable=False)


def _message(message: Message) -> ChatCompletionMessageParam:
    if message.role == "system":
        return {"role": "system", "content": message.content}
    if message.role == "assistant":
        return {"role": "assistant", "content": message.content}
    return {"role": "user", "content": message.content}


def _text_of(chunk: object) -> str:
    # Providers send chunks without choices (usage, keep-alives) and choices without content.
    choices = chunk.get("choices") if isinstance(chunk, dict) else None
    first = choices[0] if isinstance(choices, list) and choices else None
    delta = first.get("delta") if isinstance(first, dict) else None
    content = delta.get("content") if isinstance(delta, dict) else None
    return content if isinstance(content, str) else ""
