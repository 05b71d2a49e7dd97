"""Fireworks Flux text-to-image
(`POST {base}/workflows/accounts/fireworks/models/{model}/text_to_image`), binary image replies.

The real service answers `Accept: image/jpeg` with a JPEG; this one sends a small valid PNG of
the size the request implies (and says so in its content type), with the seed in a `seed` header.
"""

from __future__ import annotations

import json
import math
import struct
import zlib
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from tests.fakes.faults import FakeProviderState, HttpError, Payload, error_response, respond

MEGAPIXEL = 1024 * 1024


async def text_to_image(request: Request) -> Response:
    state: FakeProviderState = request.app.state.fake
    body = await request.json()
    state.record(request, body)
    if not request.headers.get("authorization", "").startswith("Bearer "):
        return error_response(HttpError(401), error_body(401))
    if not isinstance(body.get("prompt"), str):
        return error_response(HttpError(400), error_body(400))
    width, height = image_size(body)
    seed = body.get("seed") or zlib.crc32(body["prompt"].encode())
    payload = Payload([png(width, height)], media_type="image/png", headers={"seed": str(seed)})
    return await respond(
        request,
        state.take_fault(),
        payload=payload,
        malformed=Payload([b"this is not an image"], media_type="image/png"),
        error_body=error_body,
    )


def error_body(status: int) -> bytes:
    return json.dumps({"error": {"message": f"fake error {status}", "code": status}}).encode()


def image_size(body: dict[str, Any]) -> tuple[int, int]:
    """Explicit width/height, else about one megapixel in the aspect ratio (default 1:1)."""
    if isinstance(body.get("width"), int) and isinstance(body.get("height"), int):
        return body["width"], body["height"]
    across, down = (int(part) for part in str(body.get("aspect_ratio") or "1:1").split(":"))
    return _multiple_of_16(math.sqrt(MEGAPIXEL * across / down)), _multiple_of_16(
        math.sqrt(MEGAPIXEL * down / across)
    )


def _multiple_of_16(value: float) -> int:
    return max(16, round(value / 16) * 16)


def png(width: int, height: int) -> bytes:
    """A valid, mostly-black RGB PNG; black rows compress to almost nothing."""
    row = b"\x00" + b"\x00" * (3 * width)  # filter byte, then pixels
    pixels = zlib.compress(row * height, 9)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunks = _chunk(b"IHDR", header) + _chunk(b"IDAT", pixels) + _chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + chunks


def _chunk(kind: bytes, data: bytes) -> bytes:
    checksum = zlib.crc32(kind + data)
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", checksum)
