"""The ASGI application and the command line.

    uv run main.py serve [--host H] [--port P] [--no-worker]
                                                 start the server (GraphiQL at /graphql)
    uv run main.py worker                        execute queued runs, serve no HTTP (distributed mode)
    uv run main.py migrate                       apply database migrations
    uv run main.py seed                          write the component catalog
    uv run main.py create-user / create-admin    add an editor user / a backoffice user
    uv run main.py export-schema [FILE]          write the GraphQL SDL (default schema.graphql)
    uv run main.py run FLOW.json [--provider P] [--json]
                                                 run a flow file here, with live progress

`uvicorn main:app` serves the same application, configured from the environment.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from cli.commands import main
from web.app import create_app

if TYPE_CHECKING:
    from starlette.applications import Starlette

__all__ = ["create_app", "main"]


def __getattr__(name: str) -> Starlette:
    # `uvicorn main:app`: built on first access, so importing main has no side effects.
    if name == "app":
        return create_app(serving=True)
    raise AttributeError(name)


if __name__ == "__main__":
    sys.exit(main())
