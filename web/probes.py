"""What operators and orchestrators call: Prometheus metrics, liveness and readiness probes."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from services.backend import Backend
from services.platform import health


async def metrics_page(request: Request) -> Response:
    """This app's metrics (its backend's registry)."""
    backend: Backend = request.app.state.backend
    return Response(generate_latest(backend.metrics.registry), media_type=CONTENT_TYPE_LATEST)


async def live(request: Request) -> JSONResponse:
    """The process answers: restarting it would not help."""
    return JSONResponse({"status": "ok"})


async def ready(request: Request) -> JSONResponse:
    """503 while this process should get no traffic: the database is unreachable or behind the
    code's migrations, or the server is shutting down."""
    backend: Backend = request.app.state.backend
    problems = await health.readiness_problems(backend.engine, taking_runs=backend.runs.taking_runs)
    if problems:
        return JSONResponse({"status": "unavailable", "problems": problems}, status_code=503)
    return JSONResponse({"status": "ok"})


def operations_routes() -> list[BaseRoute]:
    return [
        Route("/metrics", metrics_page),
        Route("/health/live", live),
        Route("/health/ready", ready),
    ]
