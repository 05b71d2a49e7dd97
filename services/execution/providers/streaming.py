"""What every streaming text client shares; subclasses say how to open a stream and read it."""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing
from typing import Any, Protocol, cast

import httpx2

from services.execution.providers.base import TextRequest
from services.execution.providers.known import ProviderInfo
from services.execution.providers.retry import RetryPolicy, status_failure, stream_with_retries, transport_failure
from services.execution.text import storable


class StreamingTextProvider(ABC):
    def __init__(
        self,
        info: ProviderInfo,
        *,
        api_key: str,
        policy: RetryPolicy,
        concurrency: int,
    ) -> None:
        self.id = info.id
        self._api_key = api_key
        self._policy = policy
        self._semaphore = asyncio.Semaphore(concurrency)

    def stream_text(self, request: TextRequest) -> AsyncGenerator[str, None]:
        return stream_with_retries(self.id, self._policy, lambda: self._attempt(request))

    @abstractmethod
    async def aclose(self) -> None:
        """Close the client's connections."""

    async def _attempt(self, request: TextRequest) -> AsyncGenerator[str, None]:
        # The slot is held while the stream is open, not while waiting to retry.
        async with self._semaphore:
            response = await self._open(request)
            async with aclosing(response), aclosing(self._pieces(response)) as pieces:
                async for piece in pieces:
                    yield storable(piece)

    @abstractmethod
    async def _open(self, request: TextRequest) -> httpx2.Response:
        """Send the request; raise AttemptFailed when it is refused."""

    @abstractmethod
    def _pieces(self, response: httpx2.Response) -> AsyncGenerator[str, None]:
        """The reply's text, piece by piece; raise AttemptFailed when the stream breaks."""


class StatusError(Protocol):
    """What the SDKs' errors for an error status (openai's and anthropic's APIStatusError) say."""

    status_code: int
    body: object

    @property
    def response(self) -> httpx2.Response: ...


class SDKClient(Protocol):
    """What PreparedPost takes from an SDK's client (openai's and anthropic's are built alike):
    its private request builder and error reader, used here and nowhere else."""

    def _build_request(self, options: Any) -> httpx2.Request: ...

    def _make_status_error_from_response(self, response: httpx2.Response) -> Any: ...


class PreparedPost:
    """A POST that an SDK's client built once (URL, auth and the SDK's headers, timeout), sent
    again through the SDK's HTTP client with each call's body.

    Going through the SDK's `create` or even its generic `post` on every call builds pydantic
    options, copies them twice and merges headers each time: more CPU than the rest of a
    streamed call. Every call to one endpoint of a client with a fixed API key gets the same
    request but for the body.
    """

    __slots__ = ("_extensions", "_headers", "_http", "_secret", "_status_error", "_timeout", "_url")

    def __init__(
        self,
        http: httpx2.AsyncClient,
        template: httpx2.Request,
        status_error: Callable[[httpx2.Response], StatusError],
        *,
        secret: str,
        timeout: float,
    ) -> None:
        """`status_error`: the SDK's reading of an error status and its body; `secret`: the API
        key, kept out of error messages; `timeout`: the one the SDK's client was given."""
        self._http = http
        self._secret = secret
        self._timeout = timeout
        self._url = template.url
        # Each body sets its own length.
        self._headers = httpx2.Headers(
            [(k, v) for k, v in template.headers.multi_items() if k.lower() != "content-length"]
        )
        self._extensions = template.extensions
        self._status_error = status_error

    @classmethod
    def of(cls, client: SDKClient, http: httpx2.AsyncClient, options: Any, *, secret: str, timeout: float) -> PreparedPost:
        """The POST that `client` builds for `options` (its FinalRequestOptions for one endpoint),
        sent through `http`, the client's HTTP client."""
        return cls(
            http,
            client._build_request(options),
            client._make_status_error_from_response,
            secret=secret,
            timeout=timeout,
        )

    async def send(self, body: bytes) -> httpx2.Response:
        """The open response; AttemptFailed for an error status or a network failure."""
        request = httpx2.Request(
            "POST", self._url, headers=self._headers, content=body, extensions=dict(self._extensions)
        )
        try:
            response = await self._http.send(request, stream=True)
            if response.status_code >= 400:
                await response.aread()  # the error's body, and the connection back to the pool
        except httpx2.TransportError as error:
            raise transport_failure(error, timeout=self._timeout) from error
        if response.status_code >= 400:
            refused = self._status_error(response)
            failure = status_failure(refused.status_code, refused.response.headers, refused.body, secret=self._secret)
            raise failure from cast(Exception, refused)  # StatusError says what the SDKs' exceptions have
        return response
