"""What every streaming text client shares; subclasses say how to open a stream and read it."""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import AsyncGenerator
from contextlib import AbstractAsyncContextManager, aclosing
from typing import Generic, TypeVar

from services.execution.providers.base import TextRequest
from services.execution.providers.known import ProviderInfo
from services.execution.providers.retry import RetryPolicy, stream_with_retries
from services.execution.text import storable

Stream = TypeVar("Stream", bound=AbstractAsyncContextManager[object])


class StreamingTextProvider(ABC, Generic[Stream]):
    def __init__(
        self,
        info: ProviderInfo,
        *,
        api_key: str,
        policy: RetryPolicy,
        semaphore: asyncio.Semaphore,
    ) -> None:
        self.id = info.id
        self._api_key = api_key
        self._policy = policy
        self._semaphore = semaphore

    def stream_text(self, request: TextRequest) -> AsyncGenerator[str, None]:
        return stream_with_retries(self.id, self._policy, lambda: self._attempt(request))

    @abstractmethod
    async def aclose(self) -> None:
        """Close the client's connections."""

    async def _attempt(self, request: TextRequest) -> AsyncGenerator[str, None]:
        # The slot is held while the stream is open, not while waiting to retry.
        async with self._semaphore:
            stream = await self._open(request)
            async with stream, aclosing(self._pieces(stream)) as pieces:
                async for piece in pieces:
                    yield storable(piece)

    @abstractmethod
    async def _open(self, request: TextRequest) -> Stream:
        """Send the request; raise AttemptFailed when it is refused."""

    @abstractmethod
    def _pieces(self, stream: Stream) -> AsyncGenerator[str, None]:
        """The reply's text, piece by piece; raise AttemptFailed when the stream breaks."""
