"""What `health` and `providers` report about this server."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from db.engine import database_is_reachable
from services.providers import PROVIDERS, ProviderInfo
from services.settings import Settings

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


async def check_health(session: AsyncSession) -> HealthReport:
    database = await database_is_reachable(session)
    return HealthReport(status="ok" if database else "degraded", database=database, version=VERSION)


def provider_statuses(settings: Settings) -> list[ProviderStatus]:
    """A provider is available when its API key is set."""
    return [
        ProviderStatus(info=info, available=settings.providers[info.id].api_key is not None)
        for info in PROVIDERS.values()
    ]

