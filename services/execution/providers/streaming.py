"""What every streaming text client shares; subclasses say which SDK builds their requests, how
to write a request's body and how to read the stream."""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing
from types import TracebackType
from typing import ClassVar, cast

import httpx2

from services.execution.providers.base import TextRequest
from services.execution.providers.known import ProviderInfo
from services.execution.providers.retry import (
    RetryPolicy,
    malformed,
    status_failure,
    stream_with_retries,
    transport_failure,
)
from services.execution.providers.sdk_internals import SDK, StatusError
from services.execution.providers.wire import pool_limits
from services.execution.text import storable


class StreamingTextProvider(ABC):
    """A text client over an SDK's client (sdk_internals), which builds the request to `path`
    once (PreparedPost); each call sends it with the body `_body` writes."""

    sdk: ClassVar[SDK]
    path: ClassVar[str]

    def __init__(
        self,
        info: ProviderInfo,
        *,
        api_key: str,
        base_url: str,
        policy: RetryPolicy,
        concurrency: int,
    ) -> None:
        self.id = info.id
        self._api_key = api_key
        self._policy = policy
        self._semaphore = asyncio.Semaphore(concurrency)
        self._read_failures = ReadFailures(policy.timeout)
        # The SDK's aiohttp transport: httpcore's pool, its default, probes every idle connection
        # on each request and release.
        http = self.sdk.http_client(limits=pool_limits(concurrency))
        self._client = self.sdk.client(
            api_key=api_key, base_url=base_url, timeout=policy.timeout, max_retries=0, http_client=http
        )
        self._post = PreparedPost(
            http,
            self.sdk.post_request(self._client, self.path),
            self.sdk.status_error_reader(self._client),
            secret=api_key,
            timeout=policy.timeout,
        )

    def stream_text(self, request: TextRequest) -> AsyncGenerator[str, None]:
        return stream_with_retries(self.id, self._policy, lambda: self._attempt(request))

    async def aclose(self) -> None:
        """Close the client's connections."""
        await self._client.close()

    async def _attempt(self, request: TextRequest) -> AsyncGenerator[str, None]:
        # The slot is held while the stream is open, not while waiting to retry.
        async with self._semaphore:
            response = await self._post.send(self._body(request))
            async with aclosing(response), aclosing(self._pieces(response)) as pieces:
                async for piece in pieces:
                    yield storable(piece)

    @abstractmethod
    def _body(self, request: TextRequest) -> bytes:
        """The request's JSON body."""

    @abstractmethod
    def _pieces(self, response: httpx2.Response) -> AsyncGenerator[str, None]:
        """The reply's text, piece by piece, read `with self._read_failures`; raise AttemptFailed
        when the stream breaks."""


class ReadFailures:
    """Turns what breaks a stream being read into the attempt's failure: a network error into a
    transport failure, an event that is not JSON or not of the expected shape into a malformed
    reply. Holds nothing of one stream: a client enters the same one for each."""

    __slots__ = ("_timeout",)

    def __init__(self, timeout: float) -> None:
        self._timeout = timeout

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if isinstance(error, httpx2.TransportError):
            raise transport_failure(error, timeout=self._timeout) from error
        if isinstance(error, ValueError):  # JSON or schema errors in an event
            raise malformed() from error


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
