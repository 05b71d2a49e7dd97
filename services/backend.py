"""The process-wide objects every request shares, opened once at start-up."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from db.engine import create_session_factory
from services.auth import AuthConfig
from services.catalog import Catalog, load_catalog
from services.event_handlers import handlers
from services.events import EventBus
from services.execution.graph import GraphLimits
from services.rate_limit import LoginRateLimiter
from services.settings import Settings
from services.tokens import TokenCodec


@dataclass(frozen=True)
class Backend:
    settings: Settings
    engine: AsyncEngine
    session_factory: async_sessionmaker[AsyncSession]
    bus: EventBus
    auth: AuthConfig
    # Read once: the catalog changes only when seeded, and seeding happens before start-up.
    catalog: Catalog

    @property
    def graph_limits(self) -> GraphLimits:
        limits = self.settings.limits
        return GraphLimits(
            max_nodes=limits.max_graph_nodes,
            max_edges=limits.max_graph_edges,
            max_text_length=limits.max_text_length,
        )

    async def close(self) -> None:
        await self.engine.dispose()


async def open_backend(settings: Settings, engine: AsyncEngine) -> Backend:
    session_factory = create_session_factory(engine)
    async with session_factory() as session:
        catalog = await load_catalog(session)
    return Backend(
        settings=settings,
        engine=engine,
        session_factory=session_factory,
        bus=EventBus(handlers),
        auth=AuthConfig(
            tokens=TokenCodec(settings.auth_secret_key),
            bcrypt_rounds=settings.bcrypt_rounds,
            login_limiter=LoginRateLimiter(
                attempts=settings.limits.login_attempts,
                window_seconds=settings.limits.login_window_seconds,
            ),
        ),
        catalog=catalog,
    )
