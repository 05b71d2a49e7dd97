"""What `health` and `providers` report about this server."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from db.engine import database_is_reachable
from db.migrations import migrations_pending
from services.execution.providers.known import PROVIDERS, ProviderInfo
from services.platform.settings import Settings

# Kept equal to pyproject.toml's version (uv runs the checkout uninstalled, so there is no
# distribution metadata to read it from).
VERSION = "0.1.0"


@dataclass(frozen=True)
class HealthReport:
    status: str
    database: bool
    version: str


@dataclass(frozen=True)
class ProviderStatus:
    info: ProviderInfo
    available: bool


class DatabaseProbe:
    """Whether the database answers, asked at most once per `max_age_seconds`.

    Load balancers and monitors poll `health` often, and many at once: they share one check
    (and so take no connection) within that time, and a database that stops answering shows
    within it."""

    def __init__(self, max_age_seconds: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._max_age = max_age_seconds
        self._clock = clock
        self._answer: tuple[bool, float] | None = None

    async def reachable(self, session: Callable[[], AsyncSession]) -> bool:
        """`session` gives the session to ask through, only when a check is due."""
        if self._answer is not None and self._clock() - self._answer[1] < self._max_age:
            return self._answer[0]
        reachable = await database_is_reachable(session())
        self._answer = (reachable, self._clock())
        return reachable


async def check_health(session: Callable[[], AsyncSession], probe: DatabaseProbe) -> HealthReport:
    database = await probe.reachable(session)
    return HealthReport(status="ok" if database else "degraded", database=database, version=VERSION)


async def readiness_problems(engine: AsyncEngine, *, taking_runs: bool, timeout: float = 3.0) -> list[str]:
    """Why this process should not get traffic now (an empty list: it is ready)."""
    if not taking_runs:
        return ["shutting down: no new runs are taken"]
    try:
        pending = await asyncio.wait_for(migrations_pending(engine), timeout)
    except Exception as error:
        # The error's first line names the cause (refused, unknown host, no such file, timeout).
        return [f"database unreachable: {type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"]
    return ["database migrations pending: run `main.py migrate`"] if pending else []


def provider_statuses(settings: Settings) -> list[ProviderStatus]:
    """A provider is available when its API key is set."""
    return [
        ProviderStatus(info=info, available=settings.providers[info.id].api_key is not None)
        for info in PROVIDERS.values()
    ]

