"""Images from Fireworks' Flux text-to-image workflow.

Flux takes an aspect ratio rather than a size, so the request's width and height choose the
nearest supported ratio, and the image's real size is read from the returned bytes.
"""

from __future__ import annotations

import asyncio
import math
import struct

import httpx2

from services.execution.providers.base import GeneratedImage, ImageRequest
from services.execution.providers.known import ProviderInfo
from services.execution.providers.retry import (
    RetryPolicy,
    call_with_retries,
    malformed,
    status_failure,
    transport_failure,
)
from services.execution.providers.wire import pool_limits

ASPECT_RATIOS = ("1:1", "21:9", "16:9", "3:2", "5:4", "4:5", "2:3", "9:16", "9:21", "4:3", "3:4")
MODEL_PREFIX = "accounts/fireworks/models/"


class FireworksProvider:
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
        self._client = httpx2.AsyncClient(
            base_url=base_url,
            timeout=policy.timeout,
            limits=pool_limits(concurrency),
            headers={"Authorization": f"Bearer {api_key}", "Accept": "image/jpeg"},
        )

    async def generate_image(self, request: ImageRequest) -> GeneratedImage:
        return await call_with_retries(self.id, self._policy, lambda: self._attempt(request))

    async def aclose(self) -> None:
        await self._client.aclose()

    async def _attempt(self, request: ImageRequest) -> GeneratedImage:
        async with self._semaphore:
            try:
                response = await self._client.post(endpoint(request.model), json=body(request))
            except httpx2.TransportError as error:
                raise transport_failure(error, timeout=self._policy.timeout) from error
        if response.status_code >= 400:
            details = _json_or_none(response)
            raise status_failure(
                response.status_code, response.headers, details, secret=self._api_key
            )
        return _image(response, request)


def endpoint(model: str) -> str:
    qualified = model if model.startswith(MODEL_PREFIX) else MODEL_PREFIX + model
    return f"workflows/{qualified}/text_to_image"


def body(request: ImageRequest) -> dict[str, object]:
    payload: dict[str, object] = {
        "prompt": request.prompt,
        "aspect_ratio": nearest_aspect_ratio(request.width, request.height),
    }
    if request.steps is not None:
        payload["num_inference_steps"] = request.steps
    if request.seed is not None:
        payload["seed"] = request.seed
    return payload


def nearest_aspect_ratio(width: int, height: int) -> str:
    wanted = math.log(width / height)
    return min(ASPECT_RATIOS, key=lambda ratio: abs(math.log(_ratio(ratio)) - wanted))


def _ratio(aspect: str) -> float:
    across, down = aspect.split(":")
    return int(across) / int(down)


def _image(response: httpx2.Response, request: ImageRequest) -> GeneratedImage:
    content_type = response.headers.get("content-type", "").split(";")[0].strip()
    size = image_size(response.content)
    if not content_type.startswith("image/") or size is None:
        raise malformed()
    seed = _int_or_none(response.headers.get("seed"))
    return GeneratedImage(
        data=response.content,
        content_type=content_type,
        width=size[0],
        height=size[1],
        seed=request.seed if seed is None else seed,
    )


def _json_or_none(response: httpx2.Response) -> object:
    try:
        return response.json()
    except ValueError:
        return None


def _int_or_none(raw: str | None) -> int | None:
    try:
        return int(raw) if raw is not None else None
    except ValueError:
        return None


def image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) of a PNG or JPEG, or None when the bytes are neither."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return width, height
    if data.startswith(b"\xff\xd8"):
        return _jpeg_size(data)
    return None


# Start-of-frame markers, which carry the size; C4, C8 and CC share the range but are not frames.
_JPEG_FRAMES = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    position = 2
    while position + 9 <= len(data) and data[position] == 0xFF:
        marker = data[position + 1]
        if marker in _JPEG_FRAMES:
            height, width = struct.unpack(">HH", data[position + 5 : position + 9])
            return width, height
        (length,) = struct.unpack(">H", data[position + 2 : position + 4])
        position += 2 + length
    return None
