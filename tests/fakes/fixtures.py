"""Fixtures for tests of provider clients against the fake provider servers: one server a test
module, a fresh `FakeProviderState` a test."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from starlette.applications import Starlette

from tests.fakes.providers import FakeProviderState, fake_provider_app
from tests.fakes.server import serve_app


@pytest.fixture(scope="module")
def fake_app() -> Starlette:
    return fake_provider_app()


@pytest.fixture(scope="module")
async def base_url(fake_app: Starlette) -> AsyncIterator[str]:
    """The fake providers served on 127.0.0.1."""
    async with serve_app(fake_app) as url:
        yield url


@pytest.fixture
def fake(fake_app: Starlette) -> FakeProviderState:
    fake_app.state.fake = FakeProviderState()
    return fake_app.state.fake
