"""A bare Starlette endpoint answering POST /graphql with a canned JSON body per query.

    python -m benchmarks._bare_app --port P --bodies FILE

FILE is a JSON object: query text -> the response body the real server gave for it. The
endpoint parses the request's JSON and serialises the body again, as any JSON API would, and
runs under uvicorn with the same defaults as `main.py serve` (uvloop, httptools).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


def app(bodies: dict[str, object]) -> Starlette:
    async def graphql(request: Request) -> JSONResponse:
        payload = await request.json()
        return JSONResponse(bodies[payload["query"]])

    return Starlette(routes=[Route("/graphql", graphql, methods=["POST"])])


def main() -> None:
    arguments = argparse.ArgumentParser()
    arguments.add_argument("--port", type=int, required=True)
    arguments.add_argument("--bodies", required=True)
    options = arguments.parse_args()
    bodies = json.loads(Path(options.bodies).read_text())
    uvicorn.run(app(bodies), host="127.0.0.1", port=options.port, log_level="warning")


if __name__ == "__main__":
    main()
