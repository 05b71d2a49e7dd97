"""CPU per streamed provider call: our OpenAI-compatible client against the SDK's plain
streaming iterator, side by side in one process (target: ours at least 2x less).

    uv run python -m benchmarks.provider_client [--calls 60,200] [--repeats 5] [--words 6]

The stand-in: the fake OpenAI-compatible provider (`benchmarks._fake_provider`, a process of
its own; asyncio's and uvloop's TCP transports set TCP_NODELAY, so small chunks are not held
back by Nagle), each completion streaming `--words` one-word chunks with no delay.

In this process, under uvloop like the server, each measurement starts `N` calls at once and
reads every one to its end:
- ours: `OpenAICompatibleProvider.stream_text` (the client the engine uses: the SDK's client
  sends the request, the stream is read as raw SSE lines, retries and limits included), with
  a semaphore of N;
- sdk: `AsyncOpenAI.chat.completions.create(stream=True)` iterated the usual way
  (`async for chunk in stream: chunk.choices[0].delta.content`), which parses every chunk into
  pydantic models.
Both clients are built once and reused (keep-alive connections). The figure is this process's
CPU time (user + system) per call; the two alternate, medians of `--repeats`.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Awaitable, Callable

import openai

from benchmarks._common import REPO, free_port, machine, median, subprocess_server, table
from services.execution.providers.base import Message, TextRequest
from services.execution.providers.known import PROVIDERS
from services.execution.providers.openai_compatible import OpenAICompatibleProvider
from services.execution.providers.retry import RetryPolicy

MODEL = "mistral-small-latest"
MESSAGES = [Message(role="user", content="Tell me a story about a lighthouse.")]


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


async def cpu_per_call(call: Callable[[], Awaitable[str]], n: int, expected: str) -> float:
    begin = time.process_time()
    replies = await asyncio.gather(*(call() for _ in range(n)))
    used = time.process_time() - begin
    assert all(reply == expected for reply in replies), replies[:2]
    return used * 1e6 / n


async def main(sizes: list[int], repeats: int, words: int) -> None:
    port = free_port()
    provider_args = ["-m", "benchmarks._fake_provider", "--port", str(port), "--words", str(words), "--chunk-delay", "0"]
    with subprocess_server(provider_args, port=port, cwd=REPO, env={"PYTHONPATH": str(REPO)}):
        base_url = f"http://127.0.0.1:{port}"
        ours = OpenAICompatibleProvider(
            PROVIDERS["mistral"], api_key="x", base_url=base_url, policy=RetryPolicy(), concurrency=max(sizes)
        )
        sdk = openai.AsyncOpenAI(api_key="x", base_url=base_url, max_retries=0)
        calls: dict[str, Callable[[], Awaitable[str]]] = {"ours": lambda: ours_call(ours), "sdk": lambda: sdk_call(sdk)}
        expected = await ours_call(ours)
        assert await sdk_call(sdk) == expected
        rows = []
        for n in sizes:
            figures: dict[str, list[float]] = {"ours": [], "sdk": []}
            for call in calls.values():  # warm-up: connections opened, code paths hot
                await cpu_per_call(call, n, expected)
            for rep in range(repeats):
                for name in ("ours", "sdk") if rep % 2 == 0 else ("sdk", "ours"):
                    figures[name].append(await cpu_per_call(calls[name], n, expected))
            ours_us, sdk_us = median(figures["ours"]), median(figures["sdk"])
            verdict = "met" if sdk_us / ours_us >= 2 else "NOT met"
            rows.append([n, words, ours_us, sdk_us, sdk_us / ours_us, verdict])
        await ours.aclose()
        await sdk.close()
    print(
        table(
            ["concurrent calls", "chunks/call", "ours cpu us/call", "sdk cpu us/call", "sdk/ours", "target >= 2"],
            rows,
            title=f"CPU per streamed provider call, client side, medians of {repeats}; {machine()}",
        )
    )


def cli() -> None:
    arguments = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    arguments.add_argument("--calls", default="60,200")
    arguments.add_argument("--repeats", type=int, default=5)
    arguments.add_argument("--words", type=int, default=6)
    options = arguments.parse_args()
    import uvloop

    uvloop.run(main([int(size) for size in options.calls.split(",")], options.repeats, options.words))


if __name__ == "__main__":
    cli()
