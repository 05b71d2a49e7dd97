"""The test suite's fake OpenAI-compatible provider, served alone (a process of its own).

    python -m benchmarks._fake_provider --port P [--words 20] [--chunk-delay 0.02]

Every chat completion streams a fixed reply of `--words` words, one SSE chunk per word, with
`--chunk-delay` seconds before each chunk (`SlowChunks`), like a model producing ~50 tokens/s.
"""

from __future__ import annotations

import argparse

import uvicorn

from tests.fakes.providers import FakeProviderState, SlowChunks, fake_provider_app

WORDS = (
    "the lighthouse keeper read the message twice then climbed the stairs to watch the "
    "storm roll in over the black water while gulls circled the lamp and waited"
).split()


def main() -> None:
    arguments = argparse.ArgumentParser()
    arguments.add_argument("--port", type=int, required=True)
    arguments.add_argument("--words", type=int, default=20)
    arguments.add_argument("--chunk-delay", type=float, default=0.02)
    options = arguments.parse_args()
    reply = " ".join(WORDS[i % len(WORDS)] for i in range(options.words))

    class _State(FakeProviderState):
        def record(self, request, body):  # type: ignore[no-untyped-def]
            pass  # a benchmark sends thousands of requests: keep no copies

    state = _State(reply=lambda messages: reply, persistent=SlowChunks(options.chunk_delay))
    uvicorn.run(
        fake_provider_app(state),
        host="127.0.0.1",
        port=options.port,
        log_level="warning",
        access_log=False,
        backlog=4096,
    )


if __name__ == "__main__":
    main()
