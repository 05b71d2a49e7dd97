"""The ASGI application (`create_app`) and the backend it serves, its own, opened and
closed with it (`opened_backend`: the worker and account commands open it too)."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from services.platform.settings import Settings, load_settings

# The web stack and the database layer take a second or more to import: importing this module
# costs nothing, so `main.py run` shows its first line at once.
if TYPE_CHECKING:
    from opentelemetry.trace import TracerProvider
    from sqlalchemy.ext.asyncio import AsyncEngine
    from starlette.applications import Starlette

    from services.backend import Backend
    from services.platform.metrics import Metrics


def create_app(
    settings: Settings | None = None,
    *,
    serving: bool = False,
    execute_runs: bool = True,
    tracer_provider: TracerProvider | None = None,
) -> Starlette:
    """The application. `serving`: this process is a server and nothing else (not a test).
    `execute_runs`: distributed mode, this process claims queued runs too (not only serves).
    `tracer_provider`: where traces go; by default what the OTEL_* settings say (none: off)."""
    from datetime import timedelta

    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.responses import RedirectResponse
    from starlette.routing import Mount, Route, WebSocketRoute
    from starlette.staticfiles import StaticFiles

    from schema.root import build_schema
    from services.platform.metrics import Metrics
    from services.platform.telemetry import tracer_provider_from_environment
    from web.cors import cors_middleware
    from web.middleware import RequestBodyLimits, WebSocketMessageLimit
    from web.pages import page_routes
    from web.probes import operations_routes
    from web.serving import redact_tokens_in_server_logs
    from web.view import GraphQLView

    settings = settings or load_settings()
    # The app's own, shared by its schema and its backend: another app in the process counts
    # and traces apart. (A provider from the OTEL_* settings flushes its spans at exit.)
    metrics = Metrics()
    tracer_provider = tracer_provider or tracer_provider_from_environment(settings.telemetry)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with opened_backend(settings, metrics=metrics, tracer_provider=tracer_provider) as backend:
            await backend.prepare_to_serve(execute_runs=execute_runs)
            app.state.backend = backend
            if serving:
                # What start-up built lives as long as the process: out of the collector's
                # sight, full collections take milliseconds instead of hundreds of them.
                gc.freeze()
            yield

    view = GraphQLView(
        build_schema(settings.limits, metrics=metrics, tracer_provider=tracer_provider),
        connection_init_wait_timeout=timedelta(seconds=settings.limits.websocket_init_timeout_seconds),
        allowed_origins=settings.cors_origins,
    )
    settings.media_dir.mkdir(parents=True, exist_ok=True)
    redact_tokens_in_server_logs()
    limits = settings.limits
    return Starlette(
        routes=[
            Route("/", lambda request: RedirectResponse("/graphql")),
            Route("/graphql", view, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", view),
            # Generated images, referenced by URL in imageGenerator outputs.
            Mount("/media", StaticFiles(directory=settings.media_dir), name="media"),
            *page_routes(),
            *operations_routes(),
        ],
        middleware=[
            cors_middleware(settings.cors_origins),
            Middleware(
                RequestBodyLimits, max_bytes=limits.max_request_bytes, timeout_seconds=limits.body_timeout_seconds
            ),
            Middleware(WebSocketMessageLimit, max_bytes=limits.max_websocket_message_bytes),
        ],
        lifespan=lifespan,
    )


@asynccontextmanager
async def opened_backend(
    settings: Settings, *, metrics: Metrics | None = None, tracer_provider: TracerProvider | None = None
) -> AsyncIterator[Backend]:
    """The backend's objects, closed on exit (`metrics`, `tracer_provider`: see open_backend).
    The embedded default sets its database up itself; PostgreSQL is migrated with `migrate`."""
    from db.engine import create_engine
    from services.backend import open_backend

    engine = create_engine(settings.database_url, pool_size=settings.database_pool_size)
    try:
        if settings.embedded:
            await prepare_database(engine)
        backend = await open_backend(settings, engine, metrics=metrics, tracer_provider=tracer_provider)
    except BaseException:
        await engine.dispose()
        raise
    try:
        yield backend
    finally:
        await backend.close()


async def prepare_database(engine: AsyncEngine) -> None:
    """Migrate to the latest schema and seed the catalog; both are safe to repeat."""
    from db.engine import create_session_factory
    from db.migrations import upgrade_database
    from seeds.seeding import seed_catalog

    await upgrade_database(engine)
    async with create_session_factory(engine)() as session:
        await seed_catalog(session)
        await session.commit()
