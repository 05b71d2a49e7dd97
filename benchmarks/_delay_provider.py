"""A stand-in OpenAI-compatible provider whose every call takes the time its prompt asks for.

    python -m benchmarks._delay_provider --port P [--chunks 6]

`POST /chat/completions` (streaming): the first `delay=<ms>` written anywhere in the request's
messages sets how long the call takes; the reply is `--chunks` one-word SSE chunks spread
evenly over that time (the first after delay/chunks), then `[DONE]`. Without a marker the
reply streams at once. Runs under uvicorn like the fake provider (TCP_NODELAY: asyncio's and
uvloop's transports set it).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
from collections.abc import AsyncIterator

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.routing import Route

DELAY = re.compile(r"delay=(\d+)")


def app(chunks: int) -> Starlette:
    async def completions(request: Request) -> StreamingResponse:
        body = await request.json()
        text = " ".join(str(message.get("content", "")) for message in body.get("messages", []))
        found = DELAY.search(text)
        seconds = int(found.group(1)) / 1000 if found else 0.0
        return StreamingResponse(stream(str(body.get("model", "")), seconds), media_type="text/event-stream")

    async def stream(model: str, seconds: float) -> AsyncIterator[bytes]:
        for i in range(chunks):
            if seconds:
                await asyncio.sleep(seconds / chunks)
            chunk = {
                "id": "chatcmpl-stand-in", "object": "chat.completion.chunk", "created": 0, "model": model,
                "choices": [{"index": 0, "delta": {"content": f"word{i} "}, "finish_reason": None}],
            }
            yield f"data: {json.dumps(chunk)}\n\n".encode()
        yield b"data: [DONE]\n\n"

    return Starlette(routes=[Route("/chat/completions", completions, methods=["POST"])])


def main() -> None:
    arguments = argparse.ArgumentParser()
    arguments.add_argument("--port", type=int, required=True)
    arguments.add_argument("--chunks", type=int, default=6)
    options = arguments.parse_args()
    uvicorn.run(app(options.chunks), host="127.0.0.1", port=options.port, log_level="warning", access_log=False, backlog=4096)


if __name__ == "__main__":
    main()
