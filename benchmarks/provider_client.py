"""CPU per streamed provider call: our OpenAI-compatible client against the SDK's plain
streaming iterator, side by side in one process (target: ours at least 2x less).

    uv run python -m benchmarks.provider_client [--calls 60,200] [--repeats 5] [--words 6]

The stand-in: the fake OpenAI-compatible provider (`tests.fakes.providers`, served by uvicorn
in a process of its own as `benchmarks._fake_provider` serves it; asyncio's and uvloop's TCP
transports set TCP_NODELAY, so small chunks are not held back by Nagle), each completion
streaming `--words` one-word chunks with no delay, keeping idle connections for 60 s. It also
counts the TCP connections each client opened (the distinct client ports it saw).

In this process, under uvloop like the server, each measurement starts `N` calls at once and
reads every one to its end:
- ours: `OpenAICompatibleProvider.stream_text`, the client the engine uses (the request the
  SDK's client built once, sent with an orjson body through the SDK's aiohttp transport; the
  stream read as raw SSE; retries and the concurrency limit included), concurrency N;
- sdk: `AsyncOpenAI.chat.completions.create(stream=True)` iterated the usual way
  (`async for chunk in stream: chunk.choices[0].delta.content`), which parses every chunk into
  pydantic models, with the SDK's default HTTP client (httpx2 over httpcore): the anchor;
- sdk+aiohttp: the same iterator over the SDK's aiohttp transport (`DefaultAioHttpClient`) with
  ours' pool limits, to show how much of the difference is the transport.
Every client is built once and reused (keep-alive connections), and warmed up at each N. The
figure is this process's CPU time (user + system, `time.process_time`) per call; the clients
take turns in a rotating order, medians of `--repeats`.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Awaitable, Callable

import httpx2
import openai

from benchmarks._common import REPO, free_port, machine, median, subprocess_server, table
from services.execution.providers.base import Message, TextRequest
from services.execution.providers.known import PROVIDERS
from services.execution.providers.openai_compatible import OpenAICompatibleProvider
from services.execution.providers.retry import RetryPolicy
from services.execution.providers.wire import pool_limits

MODEL = "mistral-small-latest"
MESSAGES = [Message(role="user", content="Tell me a story about a lighthouse.")]
CONNECTIONS_PATH = "/benchmark/connections"
CLIENTS = ("ours", "sdk", "sdk+aiohttp")

Call = Callable[[], Awaitable[str]]


async def ours_call(provider: OpenAICompatibleProvider) -> str:
    return "".join([piece async for piece in provider.stream_text(TextRequest(model=MODEL, messages=MESSAGES))])


async def sdk_call(client: openai.AsyncOpenAI) -> str:
    stream = await client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": MESSAGES[0].content}], stream=True
    )
    text = []
    async for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            text.append(chunk.choices[0].delta.content)
    return "".join(text)


async def cpu_per_call(call: Call, n: int, expected: str) -> float:
    begin = time.process_time()
    replies = await asyncio.gather(*(call() for _ in range(n)))
    used = time.process_time() - begin
    assert all(reply == expected for reply in replies), replies[:2]
    return used * 1e6 / n


class ConnectionCounter:
    """Asks the stand-in how many distinct client connections it has seen so far."""

    def __init__(self, base_url: str) -> None:
        self._client = httpx2.AsyncClient(base_url=base_url)

    async def seen(self) -> int:
        response = await self._client.get(CONNECTIONS_PATH)
        return int(response.json()["connections"])

    async def aclose(self) -> None:
        await self._client.aclose()


async def main(sizes: list[int], repeats: int, words: int) -> None:
    port = free_port()
    provider_args = ["-m", "benchmarks.provider_client", "--serve-stand-in", str(port), "--words", str(words)]
    with subprocess_server(provider_args, port=port, cwd=REPO, env={"PYTHONPATH": str(REPO)}):
        base_url = f"http://127.0.0.1:{port}"
        ours = OpenAICompatibleProvider(
            PROVIDERS["mistral"], api_key="x", base_url=base_url, policy=RetryPolicy(), concurrency=max(sizes)
        )
        sdk = openai.AsyncOpenAI(api_key="x", base_url=base_url, max_retries=0)
        sdk_aiohttp = openai.AsyncOpenAI(  # the transport and pool limits ours has
            api_key="x", base_url=base_url, max_retries=0,
            http_client=openai.DefaultAioHttpClient(limits=pool_limits(max(sizes))),
        )
        calls: dict[str, Call] = {
            "ours": lambda: ours_call(ours),
            "sdk": lambda: sdk_call(sdk),
            "sdk+aiohttp": lambda: sdk_call(sdk_aiohttp),
        }
        counter = ConnectionCounter(base_url)
        expected = await ours_call(ours)
        assert await sdk_call(sdk) == expected
        rows = []
        for n in sizes:
            figures: dict[str, list[float]] = {name: [] for name in CLIENTS}
            opened = dict.fromkeys(CLIENTS, 0)
            for call in calls.values():  # warm-up: connections opened, code paths hot
                await cpu_per_call(call, n, expected)
            for rep in range(repeats):
                for name in CLIENTS[rep % 3 :] + CLIENTS[: rep % 3]:
                    before = await counter.seen()
                    figures[name].append(await cpu_per_call(calls[name], n, expected))
                    opened[name] += await counter.seen() - before
            us = {name: median(figures[name]) for name in CLIENTS}
            per_100 = {name: opened[name] * 100 / (n * repeats) for name in CLIENTS}
            verdict = "met" if us["sdk"] / us["ours"] >= 2 else "NOT met"
            rows.append(
                [n, us["ours"], us["sdk"], us["sdk"] / us["ours"], verdict, us["sdk+aiohttp"], us["sdk+aiohttp"] / us["ours"],
                 f"{per_100['ours']:.0f} / {per_100['sdk']:.0f} / {per_100['sdk+aiohttp']:.0f}"]
            )
        await counter.aclose()
        await ours.aclose()
        await sdk.close()
        await sdk_aiohttp.close()
    print(
        table(
            ["calls at once", "ours us/call", "sdk us/call", "sdk/ours", "target >= 2", "sdk+aiohttp us/call",
             "sdk+aiohttp/ours", "connections opened per 100 calls (ours / sdk / sdk+aiohttp)"],
            rows,
            title=f"CPU per streamed provider call, {words} chunks, client side, medians of {repeats}; {machine()}",
        )
    )


def serve_stand_in(port: int, words: int) -> None:
    """The fake provider as `benchmarks._fake_provider` serves it, counting client connections."""
    import uvicorn

    from benchmarks._fake_provider import WORDS
    from tests.fakes.providers import FakeProviderState, SlowChunks, fake_provider_app

    reply = " ".join(WORDS[i % len(WORDS)] for i in range(words))

    class _State(FakeProviderState):
        def record(self, request, body):  # type: ignore[no-untyped-def]
            pass  # a benchmark sends thousands of requests: keep no copies

    app = fake_provider_app(_State(reply=lambda messages: reply, persistent=SlowChunks(0.0)))
    clients: set[tuple[str, int]] = set()

    async def counting(scope, receive, send):  # type: ignore[no-untyped-def]
        if scope["type"] != "http":
            return await app(scope, receive, send)
        if scope["path"] == CONNECTIONS_PATH:
            body = b'{"connections": %d}' % len(clients)
            await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
            return await send({"type": "http.response.body", "body": body})
        clients.add(tuple(scope["client"]))
        return await app(scope, receive, send)

    # Idle connections are kept for a minute, so that only the clients' own keep-alive expiry
    # closes them: with uvicorn's 5 s a connection closed by the server as a client took it from
    # its pool failed the SDK's call (no retries) under load.
    uvicorn.run(
        counting, host="127.0.0.1", port=port, log_level="warning", access_log=False, backlog=4096, timeout_keep_alive=60
    )


def cli() -> None:
    arguments = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    arguments.add_argument("--calls", default="60,200")
    arguments.add_argument("--repeats", type=int, default=5)
    arguments.add_argument("--words", type=int, default=6)
    arguments.add_argument("--serve-stand-in", type=int, metavar="PORT", help=argparse.SUPPRESS)
    options = arguments.parse_args()
    if options.serve_stand_in:
        serve_stand_in(options.serve_stand_in, options.words)
        sys.exit(0)
    import uvloop

    uvloop.run(main([int(size) for size in options.calls.split(",")], options.repeats, options.words))


if __name__ == "__main__":
    cli()
