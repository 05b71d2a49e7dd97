"""Provider clients, through the registry, against the local fakes (no real API is called)."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from services.execution.providers.base import (
    ImageRequest,
    Message,
    ProviderError,
    ProviderUnavailable,
    TextRequest,
)
from services.execution.providers.fireworks import image_size, nearest_aspect_ratio
from services.execution.providers.known import ProviderSettings
from services.execution.providers.registry import ProviderRegistry
from services.execution.providers.retry import RetryPolicy, error_detail, retry_after
from tests.fakes.providers import (
    Delay,
    Drop,
    FakeProviderState,
    HttpError,
    Malformed,
    SlowChunks,
)
from tests.fakes.server import serve_app
from tests.waiting import wait_until

# Calls that should succeed get a timeout no loaded machine reaches, so a retry never adds a
# request the test did not ask for; the timeout tests use the short one against long stalls.
TIMEOUT = 5.0
SHORT_TIMEOUT = 0.5
STALL = 3.0
MAX_ATTEMPTS = 3
MAX_DELAY = 10.0
QUESTION = "what is a flow?"
EXPECTED = f"fake reply to: {QUESTION}"
REQUEST = TextRequest(
    model="small-model",
    messages=[Message("system", "Be brief."), Message("user", QUESTION)],
    temperature=0.2,
    max_tokens=50,
)
IMAGE_REQUEST = ImageRequest(
    model="flux-1-schnell-fp8", prompt="a cat", width=1344, height=768, steps=4, seed=42
)


class SleepLog:
    """Records the waits the retry policy asks for, and waits for none of them."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        await asyncio.sleep(0)


@pytest.fixture
def sleeps() -> SleepLog:
    return SleepLog()


RegistryFactory = Callable[..., ProviderRegistry]


@pytest.fixture
async def make_registry(base_url: str, sleeps: SleepLog) -> AsyncIterator[RegistryFactory]:
    registries: list[ProviderRegistry] = []

    def make(
        *, concurrency: int = 8, timeout: float = TIMEOUT, url: str = base_url
    ) -> ProviderRegistry:
        policy = RetryPolicy(
            max_attempts=MAX_ATTEMPTS,
            base_delay=0.01,
            max_delay=MAX_DELAY,
            timeout=timeout,
            sleep=sleeps,
        )
        registry = ProviderRegistry.from_settings(
            settings_for(url), concurrency=concurrency, policy=policy
        )
        registries.append(registry)
        return registry

    yield make
    for registry in registries:
        await registry.aclose()


@pytest.fixture
def registry(make_registry: RegistryFactory) -> ProviderRegistry:
    return make_registry()


@pytest.fixture
def impatient_registry(make_registry: RegistryFactory) -> ProviderRegistry:
    return make_registry(timeout=SHORT_TIMEOUT)


def settings_for(base_url: str) -> dict[str, ProviderSettings]:
    configured = {
        provider: ProviderSettings(api_key=f"key-{provider}", base_url=base_url)
        for provider in ("mistral", "openrouter", "claude", "fireworks")
    }
    return configured | {"glm": ProviderSettings(api_key=None, base_url=base_url)}


async def collect(
    registry: ProviderRegistry, provider: str, request: TextRequest = REQUEST
) -> list[str]:
    return [piece async for piece in registry.text(provider).stream_text(request)]


# --- streaming text -------------------------------------------------------------------------


async def test_openai_compatible_provider_streams_text(
    fake: FakeProviderState, registry: ProviderRegistry
) -> None:
    pieces = await collect(registry, "mistral")

    assert len(pieces) > 2
    assert "".join(pieces) == EXPECTED
    [request] = fake.requests
    assert request.path == "/chat/completions"
    assert request.headers["authorization"] == "Bearer key-mistral"
    assert request.json["model"] == "small-model"
    assert request.json["temperature"] == 0.2
    assert request.json["max_tokens"] == 50
    assert request.json["stream"] is True
    assert request.json["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": QUESTION},
    ]


async def test_claude_streams_text_with_the_system_prompt_apart(
    fake: FakeProviderState, registry: ProviderRegistry
) -> None:
    pieces = await collect(registry, "claude")

    assert len(pieces) > 2
    assert "".join(pieces) == EXPECTED
    [request] = fake.requests
    assert request.path == "/v1/messages"
    # Anthropic SDK 2.x sends an API key as a bearer token, not as x-api-key.
    assert request.headers["authorization"] == "Bearer key-claude"
    assert request.json["model"] == "small-model"
    assert request.json["temperature"] == 0.2
    assert request.json["max_tokens"] == 50
    assert request.json["system"] == "Be brief."
    assert request.json["messages"] == [{"role": "user", "content": QUESTION}]


async def test_claude_gets_a_default_max_tokens_and_no_unasked_temperature(
    fake: FakeProviderState, registry: ProviderRegistry
) -> None:
    request = TextRequest(model="claude-x", messages=[Message("user", QUESTION)])

    assert "".join(await collect(registry, "claude", request)) == EXPECTED

    sent = fake.requests[0].json
    assert sent["max_tokens"] == 2048
    assert "temperature" not in sent
    assert "system" not in sent


async def test_base_url_override_is_used(
    fake_app: Starlette, fake: FakeProviderState, make_registry: RegistryFactory
) -> None:
    behind_a_prefix = Starlette(routes=[Mount("/custom/v1", app=fake_app)])
    async with serve_app(behind_a_prefix) as url:
        registry = make_registry(url=f"{url}/custom/v1")
        pieces = await collect(registry, "openrouter")

    assert "".join(pieces) == EXPECTED
    assert len(fake.requests) == 1


# --- retries ----------------------------------------------------------------------------------


async def test_rate_limit_waits_for_retry_after_then_succeeds(
    fake: FakeProviderState, registry: ProviderRegistry, sleeps: SleepLog
) -> None:
    fake.fail_next(HttpError(429, retry_after="2"))

    assert "".join(await collect(registry, "mistral")) == EXPECTED

    assert len(fake.requests) == 2
    assert sleeps.delays == [2.0]


async def test_retry_after_is_capped_at_max_delay(
    fake: FakeProviderState, registry: ProviderRegistry, sleeps: SleepLog
) -> None:
    fake.fail_next(HttpError(429, retry_after="3600"))

    assert "".join(await collect(registry, "claude")) == EXPECTED

    assert sleeps.delays == [MAX_DELAY]


@pytest.mark.parametrize("status", [500, 502, 503, 529])
async def test_server_error_then_success(
    fake: FakeProviderState, registry: ProviderRegistry, sleeps: SleepLog, status: int
) -> None:
    fake.fail_next(HttpError(status))

    assert "".join(await collect(registry, "claude")) == EXPECTED

    assert len(fake.requests) == 2
    [delay] = sleeps.delays
    assert 0 <= delay <= 0.01  # full jitter under the first backoff step


async def test_persistent_server_error_gives_up_after_max_attempts(
    fake: FakeProviderState, registry: ProviderRegistry, sleeps: SleepLog
) -> None:
    fake.persistent = HttpError(500)

    with pytest.raises(ProviderError) as failure:
        await collect(registry, "mistral")

    assert str(failure.value) == "mistral: server error (HTTP 500) (after 3 attempts)"
    assert failure.value.provider_id == "mistral"
    assert len(fake.requests) == MAX_ATTEMPTS
    assert len(sleeps.delays) == MAX_ATTEMPTS - 1
    assert all(0 <= d <= 0.01 * 2**i for i, d in enumerate(sleeps.delays))


async def test_client_errors_are_not_retried_and_never_show_the_key(
    fake: FakeProviderState, registry: ProviderRegistry
) -> None:
    fake.fail_next(HttpError(401))

    with pytest.raises(ProviderError) as failure:
        await collect(registry, "mistral")

    assert str(failure.value) == "mistral: rejected the API key (HTTP 401)"
    assert "key-mistral" not in str(failure.value)
    assert len(fake.requests) == 1


async def test_bad_request_carries_the_providers_reason(
    fake: FakeProviderState, registry: ProviderRegistry
) -> None:
    fake.fail_next(HttpError(404))

    with pytest.raises(ProviderError) as failure:
        await collect(registry, "claude")

    assert str(failure.value) == "claude: request failed (HTTP 404): fake error 404"


async def test_slow_first_byte_times_out_and_is_retried(
    fake: FakeProviderState, impatient_registry: ProviderRegistry
) -> None:
    fake.fail_next(Delay(STALL))

    assert "".join(await collect(impatient_registry, "mistral")) == EXPECTED
    assert len(fake.requests) == 2


async def test_persistently_slow_provider_fails_after_max_attempts(
    fake: FakeProviderState, impatient_registry: ProviderRegistry
) -> None:
    fake.persistent = Delay(STALL)

    with pytest.raises(ProviderError) as failure:
        await collect(impatient_registry, "claude")

    assert str(failure.value) == "claude: no response within 0.5s (after 3 attempts)"
    assert len(fake.requests) == MAX_ATTEMPTS
    # Each attempt gave up at the timeout: its client hung up while the provider still stalled.
    await wait_until(lambda: fake.abandoned_while_delayed == MAX_ATTEMPTS, what="every attempt to be abandoned")


@pytest.mark.parametrize("provider", ["mistral", "claude"])
async def test_malformed_stream_is_an_error(
    fake: FakeProviderState, registry: ProviderRegistry, provider: str
) -> None:
    fake.fail_next(Malformed())

    with pytest.raises(ProviderError) as failure:
        await collect(registry, provider)

    assert str(failure.value) == f"{provider}: sent a response that could not be read"
    assert len(fake.requests) == 1


@pytest.mark.parametrize("provider", ["mistral", "claude"])
@pytest.mark.parametrize("after_chunks", [0, 1])
async def test_dropped_connection_before_any_text_is_retried(
    fake: FakeProviderState, registry: ProviderRegistry, provider: str, after_chunks: int
) -> None:
    # One chunk in is the role-only chunk (OpenAI) or message_start (Anthropic): still no text.
    fake.fail_next(Drop(after_chunks=after_chunks))

    assert "".join(await collect(registry, provider)) == EXPECTED
    assert len(fake.requests) == 2


@pytest.mark.parametrize(("provider", "after_chunks"), [("mistral", 3), ("claude", 5)])
async def test_no_retry_once_text_was_yielded(
    fake: FakeProviderState, registry: ProviderRegistry, provider: str, after_chunks: int
) -> None:
    fake.fail_next(Drop(after_chunks=after_chunks))
    pieces: list[str] = []

    with pytest.raises(ProviderError) as failure:
        async for piece in registry.text(provider).stream_text(REQUEST):
            pieces.append(piece)

    assert pieces == ["fake ", "reply "]
    assert str(failure.value) == f"{provider}: connection failed mid-stream"
    assert len(fake.requests) == 1


async def test_slow_stream_before_any_text_is_retried(
    fake: FakeProviderState, impatient_registry: ProviderRegistry
) -> None:
    fake.fail_next(SlowChunks(STALL))

    assert "".join(await collect(impatient_registry, "claude")) == EXPECTED
    assert len(fake.requests) == 2


@pytest.mark.parametrize(("provider", "after_chunks"), [("mistral", 3), ("claude", 5)])
async def test_stall_mid_stream_times_out_without_retry(
    fake: FakeProviderState, impatient_registry: ProviderRegistry, provider: str, after_chunks: int
) -> None:
    fake.fail_next(SlowChunks(STALL, after_chunks=after_chunks))
    pieces: list[str] = []

    with pytest.raises(ProviderError) as failure:
        async for piece in impatient_registry.text(provider).stream_text(REQUEST):
            pieces.append(piece)

    assert pieces == ["fake ", "reply "]
    assert str(failure.value) == f"{provider}: no response within 0.5s mid-stream"
    assert len(fake.requests) == 1


# --- concurrency and cancellation -------------------------------------------------------------


async def test_calls_in_flight_are_limited_per_provider(
    fake: FakeProviderState, make_registry: RegistryFactory
) -> None:
    registry = make_registry(concurrency=2, timeout=2.0)
    fake.persistent = Delay(0.1)

    replies = await asyncio.gather(*(collect(registry, "mistral") for _ in range(5)))

    assert all("".join(reply) == EXPECTED for reply in replies)
    assert len(fake.requests) == 5
    assert fake.max_in_flight == 2


async def test_providers_do_not_share_a_limit(
    fake: FakeProviderState, make_registry: RegistryFactory
) -> None:
    registry = make_registry(concurrency=1, timeout=2.0)
    fake.persistent = Delay(0.1)

    await asyncio.gather(collect(registry, "mistral"), collect(registry, "claude"))

    assert fake.max_in_flight == 2


@pytest.mark.parametrize("provider", ["mistral", "claude"])
async def test_calls_reuse_their_connections(
    fake: FakeProviderState, registry: ProviderRegistry, provider: str
) -> None:
    # A refused call's body is read, and a stream is read past its end marker: both connections
    # go back to the pool instead of being closed.
    fake.fail_next(HttpError(500))
    for _ in range(3):
        assert "".join(await collect(registry, provider)) == EXPECTED
    await asyncio.gather(*(collect(registry, provider) for _ in range(3)))

    ports = [request.client_port for request in fake.requests]
    assert len(ports) == 7
    assert len(set(ports[:4])) == 1
    assert len(set(ports)) <= 3


async def test_cancelling_a_stream_stops_it_at_once_and_closes_the_connection(
    fake: FakeProviderState, make_registry: RegistryFactory
) -> None:
    registry = make_registry(concurrency=1, timeout=5.0)
    fake.fail_next(SlowChunks(5.0, after_chunks=4))  # the first text, then a long stall
    first_piece = asyncio.Event()

    async def consume() -> None:
        async for _ in registry.text("claude").stream_text(REQUEST):
            first_piece.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(first_piece.wait(), 1.0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert fake.pauses_sat_out == 0  # it stopped within the stall, not after it
    await wait_until(lambda: fake.in_flight == 0)  # the server saw the client hang up
    # The one slot is free again: a new call does not wait for the abandoned stream.
    assert "".join(await asyncio.wait_for(collect(registry, "claude"), 1.0)) == EXPECTED


async def test_cancelling_while_waiting_for_the_first_byte(
    fake: FakeProviderState, make_registry: RegistryFactory
) -> None:
    registry = make_registry(timeout=5.0)
    fake.fail_next(Delay(5.0))
    task = asyncio.create_task(collect(registry, "mistral"))
    await wait_until(lambda: fake.requests, what="the request to reach the provider")

    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 0.5)


# --- the registry -----------------------------------------------------------------------------


def test_availability_follows_the_api_key(registry: ProviderRegistry) -> None:
    assert registry.available("mistral")
    assert registry.available("claude")
    assert not registry.available("glm")  # base URL but no key
    assert not registry.available("huggingface")  # not configured at all
    assert not registry.available("nope")


@pytest.mark.parametrize(("provider", "setting"), [("glm", "GLM"), ("huggingface", "HF")])
def test_unavailable_provider_names_the_missing_setting(
    registry: ProviderRegistry, provider: str, setting: str
) -> None:
    with pytest.raises(ProviderUnavailable) as failure:
        registry.text(provider)

    assert str(failure.value) == f"{provider}: {setting}_API_KEY is not set"


def test_unknown_or_mismatched_providers_are_errors(registry: ProviderRegistry) -> None:
    with pytest.raises(ProviderError, match="nope: unknown provider"):
        registry.text("nope")
    with pytest.raises(ProviderError, match="fireworks: does not generate texts"):
        registry.text("fireworks")
    with pytest.raises(ProviderError, match="mistral: does not generate images"):
        registry.image("mistral")


async def test_clients_are_built_once_and_closed(registry: ProviderRegistry) -> None:
    mistral = registry.text("mistral")

    assert registry.text("mistral") is mistral
    assert registry.text("claude") is not mistral
    await registry.aclose()
    assert registry.text("mistral") is not mistral


# --- images -----------------------------------------------------------------------------------


async def test_image_generation_returns_the_image_its_size_and_seed(
    fake: FakeProviderState, registry: ProviderRegistry
) -> None:
    image = await registry.image("fireworks").generate_image(IMAGE_REQUEST)

    assert image.data.startswith(b"\x89PNG")
    assert image.content_type == "image/png"
    assert (image.width, image.height) == (1360, 768)  # the fake's 16:9 megapixel
    assert image.seed == 42
    [request] = fake.requests
    assert request.path == "/workflows/accounts/fireworks/models/flux-1-schnell-fp8/text_to_image"
    assert request.headers["authorization"] == "Bearer key-fireworks"
    assert request.headers["accept"] == "image/jpeg"
    assert request.json == {
        "prompt": "a cat",
        "aspect_ratio": "16:9",
        "num_inference_steps": 4,
        "seed": 42,
    }


async def test_image_seed_comes_from_the_provider_when_not_asked_for(
    fake: FakeProviderState, registry: ProviderRegistry
) -> None:
    request = ImageRequest(model="flux-1-schnell-fp8", prompt="a dog", width=512, height=512)

    image = await registry.image("fireworks").generate_image(request)

    assert isinstance(image.seed, int)
    assert (image.width, image.height) == (1024, 1024)
    assert fake.requests[0].json == {"prompt": "a dog", "aspect_ratio": "1:1"}


async def test_image_rate_limit_is_retried(
    fake: FakeProviderState, registry: ProviderRegistry, sleeps: SleepLog
) -> None:
    fake.fail_next(HttpError(429, retry_after="1"), Drop())

    image = await registry.image("fireworks").generate_image(IMAGE_REQUEST)

    assert image.seed == 42
    assert len(fake.requests) == 3
    assert sleeps.delays[0] == 1.0


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        (Malformed(), "fireworks: sent a response that could not be read"),
        (HttpError(400), "fireworks: request failed (HTTP 400): fake error 400"),
    ],
)
async def test_image_errors_are_final(
    fake: FakeProviderState, registry: ProviderRegistry, fault: HttpError | Malformed, message: str
) -> None:
    fake.fail_next(fault)

    with pytest.raises(ProviderError) as failure:
        await registry.image("fireworks").generate_image(IMAGE_REQUEST)

    assert str(failure.value) == message
    assert len(fake.requests) == 1


async def test_slow_image_times_out(fake: FakeProviderState, impatient_registry: ProviderRegistry) -> None:
    fake.persistent = Delay(STALL)

    with pytest.raises(ProviderError, match=r"fireworks: no response within 0.5s \(after 3"):
        await impatient_registry.image("fireworks").generate_image(IMAGE_REQUEST)


# --- small pieces -----------------------------------------------------------------------------


def test_retry_after_reads_seconds_milliseconds_and_dates() -> None:
    in_a_minute = format_datetime(datetime.now(UTC) + timedelta(seconds=60), usegmt=True)

    assert retry_after({"retry-after": "7"}) == 7.0
    assert retry_after({"retry-after-ms": "250", "retry-after": "7"}) == 0.25
    assert 55 < (retry_after({"retry-after": in_a_minute}) or 0) <= 60
    assert retry_after({"retry-after": "soon"}) is None
    assert retry_after({}) is None


def test_backoff_grows_with_full_jitter_up_to_the_cap() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=5.0)

    for attempt, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 5.0), (9, 5.0)]:
        delays = [policy.delay(attempt, None) for _ in range(200)]
        assert all(0 <= d <= ceiling for d in delays)
        assert max(delays) > ceiling / 2
    assert policy.delay(1, retry_after=3.0) == 3.0
    assert policy.delay(1, retry_after=60.0) == 5.0


def test_error_detail_is_short_and_hides_the_key() -> None:
    body = {"error": {"message": "Key sk-secret-123 is not allowed for model x. " * 20}}

    detail = error_detail(body, secret="sk-secret-123")

    assert "sk-secret-123" not in detail
    assert detail.startswith("Key *** is not allowed")
    assert len(detail) <= 200


def test_aspect_ratio_is_the_nearest_supported_one() -> None:
    assert nearest_aspect_ratio(1024, 1024) == "1:1"
    assert nearest_aspect_ratio(1920, 1080) == "16:9"
    assert nearest_aspect_ratio(768, 1344) == "9:16"
    assert nearest_aspect_ratio(1000, 740) == "4:3"


def test_image_size_reads_png_and_jpeg_headers() -> None:
    jpeg = (
        b"\xff\xd8"  # start of image
        + b"\xff\xe0\x00\x10" + b"JFIF\x00" + b"\x00" * 9  # APP0, 16 bytes long
        + b"\xff\xc0\x00\x11\x08" + (600).to_bytes(2, "big") + (800).to_bytes(2, "big")  # SOF0
        + b"\x03" + b"\x00" * 9
    )
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR" + struct.pack(">II", 640, 480)

    assert image_size(jpeg) == (800, 600)
    assert image_size(png) == (640, 480)
    assert image_size(b"GIF89a") is None
