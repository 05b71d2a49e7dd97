"""The run page: plain HTML, CSS and JavaScript from `static/`, served by the app itself (no CDN,
no build step), so it works offline. The page signs in and talks to /graphql like any client.
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
# The page loads only its own scripts and styles, and talks only to its own origin; images may
# come from anywhere (a provider's URL). No other site may frame it.
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data: https: http:; connect-src 'self'; frame-ancestors 'none'"
    ),
    "Cache-Control": "no-cache",
}


async def run_page(request: Request) -> FileResponse:
    """/runs/{id} follows a run; /flows/{id} starts one. The script reads which from the path."""
    return FileResponse(STATIC_DIR / "run.html", headers=PAGE_HEADERS)


def page_routes() -> list[BaseRoute]:
    return [
        Route("/runs/{run_id}", run_page),
        Route("/flows/{flow_id}", run_page),
        Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
    ]
