"""Generated images, stored as files in MEDIA_DIR."""

from __future__ import annotations

import asyncio
import mimetypes
import uuid
from pathlib import Path


class MediaDirectory:
    """Generated images, stored as files and served by the app under `url_prefix`."""

    def __init__(self, directory: Path, url_prefix: str = "/media") -> None:
        self.directory = directory
        self.url_prefix = url_prefix

    async def save(self, data: bytes, content_type: str) -> str:
        extension = mimetypes.guess_extension(content_type) or ".bin"
        name = f"{uuid.uuid4().hex}{extension}"
        self.directory.mkdir(parents=True, exist_ok=True)
        await asyncio.to_thread((self.directory / name).write_bytes, data)
        return f"{self.url_prefix}/{name}"
