"""Leaving Redis as it was found: every key under a prefix a test or a benchmark used."""

from __future__ import annotations

from redis.asyncio import Redis


async def delete_keys(redis_url: str, prefix: str) -> None:
    redis = Redis.from_url(redis_url)
    try:
        keys = [key async for key in redis.scan_iter(match=f"{prefix}*")]
        if keys:
            await redis.delete(*keys)
    finally:
        await redis.aclose()
