"""One Starlette app serving the three provider protocols, driven by a `FakeProviderState`.

Point every client at the served base URL: the openai SDK appends `/chat/completions`, the
anthropic SDK `/v1/messages`, the Fireworks client `/workflows/.../text_to_image`. Swap
`app.state.fake` for a fresh state to reuse one server across tests.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from tests.fakes import anthropic_messages, fireworks_images, openai_chat
from tests.fakes.faults import (
    Delay,
    Drop,
    FakeProviderState,
    Fault,
    HttpError,
    Malformed,
    RecordedRequest,
    SlowChunks,
    echo_reply,
)

__all__ = [
    "Delay",
    "Drop",
    "FakeProviderState",
    "Fault",
    "HttpError",
    "Malformed",
    "RecordedRequest",
    "SlowChunks",
    "echo_reply",
    "fake_provider_app",
]

FIREWORKS_PATH = "/workflows/accounts/fireworks/models/{model}/text_to_image"


def fake_provider_app(state: FakeProviderState | None = None) -> Starlette:
    app = Starlette(
        routes=[
            Route("/chat/completions", openai_chat.chat_completions, methods=["POST"]),
            Route("/v1/messages", anthropic_messages.messages, methods=["POST"]),
            Route(FIREWORKS_PATH, fireworks_images.text_to_image, methods=["POST"]),
        ],
        middleware=[Middleware(_CountInFlight)],
    )
    app.state.fake = state or FakeProviderState()
    return app


class _CountInFlight:
    """Tracks requests being answered (streams included) in the state current at their start."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state: FakeProviderState = scope["app"].state.fake
        state.in_flight += 1
        state.max_in_flight = max(state.max_in_flight, state.in_flight)
        try:
            await self.app(scope, receive, send)
        finally:
            state.in_flight -= 1
