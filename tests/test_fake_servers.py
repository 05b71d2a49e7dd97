"""The fakes speak the real protocols: the real SDKs and a plain HTTP client understand them."""

from __future__ import annotations

import struct
from collections.abc import AsyncIterator

import anthropic
import httpx
import httpx2
import openai
import pytest
from anthropic.types import MessageParam
from openai.types.chat import ChatCompletionMessageParam

from tests.fakes.providers import (
    Drop,
    FakeProviderState,
    HttpError,
    Malformed,
)

MESSAGES: list[ChatCompletionMessageParam] = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "hello there"},
]
EXPECTED = "fake reply to: hello there"
USER_TURN: list[MessageParam] = [{"role": "user", "content": "hello there"}]


@pytest.fixture
async def openai_client(base_url: str) -> AsyncIterator[openai.AsyncOpenAI]:
    client = openai.AsyncOpenAI(base_url=base_url, api_key="test", max_retries=0)
    yield client
    await client.close()


@pytest.fixture
async def anthropic_client(base_url: str) -> AsyncIterator[anthropic.AsyncAnthropic]:
    client = anthropic.AsyncAnthropic(base_url=base_url, api_key="test", max_retries=0)
    yield client
    await client.close()


async def test_openai_chat_completion(
    fake: FakeProviderState, openai_client: openai.AsyncOpenAI
) -> None:
    completion = await openai_client.chat.completions.create(
        model="m-1", messages=MESSAGES, temperature=0.3
    )

    assert completion.choices[0].message.content == EXPECTED
    assert completion.model == "m-1"
    [request] = fake.requests
    assert request.path == "/chat/completions"
    assert request.headers["authorization"] == "Bearer test"
    assert request.json["temperature"] == 0.3


async def test_openai_streams_in_several_chunks(
    fake: FakeProviderState, openai_client: openai.AsyncOpenAI
) -> None:
    stream = await openai_client.chat.completions.create(
        model="m-1", messages=MESSAGES, stream=True
    )
    pieces = [chunk.choices[0].delta.content or "" async for chunk in stream]
    pieces = [piece for piece in pieces if piece]

    assert len(pieces) > 2
    assert "".join(pieces) == EXPECTED


async def test_openai_stream_helper_accumulates_the_completion(
    fake: FakeProviderState, openai_client: openai.AsyncOpenAI
) -> None:
    async with openai_client.chat.completions.stream(
        model="m-1", messages=MESSAGES
    ) as stream:
        deltas = [event.delta async for event in stream if event.type == "content.delta"]
        final = await stream.get_final_completion()

    assert "".join(deltas) == EXPECTED
    assert final.choices[0].message.content == EXPECTED
    assert final.choices[0].finish_reason == "stop"


async def test_anthropic_message(
    fake: FakeProviderState, anthropic_client: anthropic.AsyncAnthropic
) -> None:
    message = await anthropic_client.messages.create(
        model="claude-x",
        max_tokens=100,
        system="Be brief.",
        messages=USER_TURN,
    )

    assert message.content[0].type == "text"
    assert message.content[0].text == EXPECTED
    [request] = fake.requests
    assert request.path == "/v1/messages"
    assert request.headers["authorization"] == "Bearer test"
    assert request.headers["anthropic-version"]
    assert request.json["system"] == "Be brief."


async def test_anthropic_raw_stream_events(
    fake: FakeProviderState, anthropic_client: anthropic.AsyncAnthropic
) -> None:
    stream = await anthropic_client.messages.create(
        model="claude-x",
        max_tokens=100,
        messages=USER_TURN,
        stream=True,
    )
    events = [event async for event in stream]

    kinds = [event.type for event in events]
    assert kinds[:2] == ["message_start", "content_block_start"]
    assert kinds[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    texts = [
        event.delta.text
        for event in events
        if event.type == "content_block_delta" and event.delta.type == "text_delta"
    ]
    assert len(texts) > 2
    assert "".join(texts) == EXPECTED


async def test_anthropic_stream_helper_accumulates_the_message(
    fake: FakeProviderState, anthropic_client: anthropic.AsyncAnthropic
) -> None:
    async with anthropic_client.messages.stream(
        model="claude-x", max_tokens=100, messages=USER_TURN
    ) as stream:
        text = "".join([piece async for piece in stream.text_stream])
        final = await stream.get_final_message()

    assert text == EXPECTED
    assert final.stop_reason == "end_turn"


async def test_reply_function_is_configurable(
    fake: FakeProviderState, openai_client: openai.AsyncOpenAI
) -> None:
    fake.reply = lambda messages: f"{len(messages)} messages"

    completion = await openai_client.chat.completions.create(
        model="m-1", messages=MESSAGES
    )

    assert completion.choices[0].message.content == "2 messages"


async def test_fireworks_returns_an_image_and_its_seed(
    fake: FakeProviderState, base_url: str
) -> None:
    async with httpx.AsyncClient(base_url=base_url) as client:
        response = await client.post(
            "/workflows/accounts/fireworks/models/flux-1-schnell-fp8/text_to_image",
            json={"prompt": "a cat", "aspect_ratio": "16:9", "seed": 7},
            headers={"Authorization": "Bearer test", "Accept": "image/jpeg"},
        )

    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    assert response.headers["seed"] == "7"
    assert response.content.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = struct.unpack(">II", response.content[16:24])
    assert width > height
    assert fake.requests[0].json["prompt"] == "a cat"


async def test_faults_are_consumed_in_order(
    fake: FakeProviderState, openai_client: openai.AsyncOpenAI
) -> None:
    fake.fail_next(HttpError(429, retry_after="3"), HttpError(503))

    with pytest.raises(openai.RateLimitError) as rate_limited:
        await openai_client.chat.completions.create(model="m", messages=MESSAGES)
    with pytest.raises(openai.InternalServerError):
        await openai_client.chat.completions.create(model="m", messages=MESSAGES)
    completion = await openai_client.chat.completions.create(model="m", messages=MESSAGES)

    assert rate_limited.value.response.headers["retry-after"] == "3"
    assert completion.choices[0].message.content == EXPECTED
    assert len(fake.requests) == 3


async def test_malformed_stream_fails_to_parse(
    fake: FakeProviderState, anthropic_client: anthropic.AsyncAnthropic
) -> None:
    fake.fail_next(Malformed())

    stream = await anthropic_client.messages.create(
        model="c", max_tokens=10, messages=USER_TURN, stream=True
    )
    with pytest.raises(ValueError):
        [event async for event in stream]


async def test_dropped_stream_is_a_protocol_error(
    fake: FakeProviderState, anthropic_client: anthropic.AsyncAnthropic
) -> None:
    fake.fail_next(Drop(after_chunks=2))

    stream = await anthropic_client.messages.create(
        model="c", max_tokens=10, messages=USER_TURN, stream=True
    )
    events = []
    with pytest.raises(httpx2.RemoteProtocolError):
        async for event in stream:
            events.append(event)

    assert [event.type for event in events] == ["message_start", "content_block_start"]


async def test_dropped_body_is_a_connection_error(
    fake: FakeProviderState, openai_client: openai.AsyncOpenAI
) -> None:
    fake.fail_next(Drop())

    with pytest.raises(openai.APIConnectionError):
        await openai_client.chat.completions.create(model="m", messages=MESSAGES)
