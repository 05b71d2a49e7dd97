from __future__ import annotations

from schema.context import Info
from schema.types.system import Health, Provider
from services.platform.health import check_health, provider_statuses


async def health(info: Info) -> Health:
    report = await check_health(lambda: info.context.session, info.context.backend.database_probe)
    return Health(status=report.status, database=report.database, version=report.version)


async def providers(info: Info) -> list[Provider]:
    return [
        Provider(
            id=status.info.id,
            name=status.info.name,
            kind=status.info.kind,
            available=status.available,
            default_model=status.info.default_model,
        )
        for status in provider_statuses(info.context.backend.settings)
    ]
