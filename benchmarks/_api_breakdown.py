"""Where a typical query's time goes: the app in this process, timers around its main steps.

Used by `python -m benchmarks.api_throughput --breakdown [--flow-nodes N]`. The app is
`web.app.create_app` with a fresh embedded SQLite database in a temporary directory, called
through httpx's ASGI transport one request at a time, so each timer reads the wall time of its
step (including waits on aiosqlite's thread) with nothing else running. Timers wrap functions
by patching them in memory for this process only; no file changes.
"""

from __future__ import annotations

import collections
import functools
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from benchmarks._api_data import HEALTH, PROJECTS, prepare
from benchmarks._common import machine, table

STEPS: list[tuple[str, str, str]] = [
    # (module, attribute path, label)
    ("strawberry.schema.schema", "Schema.execute", "Schema.execute (all of the GraphQL operation)"),
    ("strawberry.schema.schema", "parse", "  parse the document"),
    ("strawberry.schema.schema", "validate_document", "  validate the document"),
    ("schema.context", "Context.actor", "  authenticate (JWT, session check: 1 SELECT)"),
    ("services.projects.projects", "list_projects", "  projects page (SELECT page, SELECT count)"),
    ("services.projects.projects", "list_projects_with_flows", "  projects page with their flows (1 SELECT)"),
    ("db.loaders", "ByProjectLoader.batch_load_fn", "  flows of the projects (DataLoader: 1 SELECT)"),
    ("schema.context", "Context.finish", "  end the operation's transaction"),
]


def _patch(module_name: str, path: str, label: str, spent: dict[str, float]) -> Callable[[], None]:
    module = __import__(module_name, fromlist=["_"])
    owner: Any = module
    *parents, name = path.split(".")
    for parent in parents:
        owner = getattr(owner, parent)
    original = getattr(owner, name)
    if _is_async(original):

        @functools.wraps(original)
        async def timed(*args: Any, **kwargs: Any) -> Any:
            begin = time.perf_counter()
            try:
                return await original(*args, **kwargs)
            finally:
                spent[label] += time.perf_counter() - begin

    else:

        @functools.wraps(original)
        def timed(*args: Any, **kwargs: Any) -> Any:
            begin = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                spent[label] += time.perf_counter() - begin

    setattr(owner, name, timed)
    return lambda: setattr(owner, name, original)


def _is_async(function: Any) -> bool:
    import inspect

    return inspect.iscoroutinefunction(function)


async def breakdown(flow_nodes: int, requests: int = 200) -> None:
    from services.platform.settings import load_settings
    from web.app import create_app

    spent: dict[str, float] = collections.defaultdict(float)
    undo = [_patch(module, path, label, spent) for module, path, label in STEPS]
    rows = []
    try:
        with tempfile.TemporaryDirectory(prefix="bench-breakdown-") as workdir:
            settings = load_settings({"BCRYPT_ROUNDS": "4"}, workdir=Path(workdir))
            app = create_app(settings)
            async with app.router.lifespan_context(app):
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
                    token = await prepare("http://bench", flow_nodes, http=http)
                    for query_name, query, headers in (
                        ("projects", PROJECTS, {"authorization": f"Bearer {token}"}),
                        ("health", HEALTH, {}),
                    ):
                        for _ in range(20):  # warm-up
                            await http.post("/graphql", json={"query": query}, headers=headers)
                        spent.clear()
                        begin = time.perf_counter()
                        for _ in range(requests):
                            response = await http.post("/graphql", json={"query": query}, headers=headers)
                            assert response.status_code == 200 and "errors" not in response.json()
                        total = (time.perf_counter() - begin) / requests
                        rows.append([query_name, "whole request (ASGI app + in-process client)", total * 1e6, "-"])
                        execute = spent[STEPS[0][2]] / requests
                        for _, _, label in STEPS:
                            if spent.get(label):
                                share = f"{100 * spent[label] / requests / execute:.1f}"
                                rows.append([query_name, label, spent[label] / requests * 1e6, share])
    finally:
        for restore in undo:
            restore()
    print(
        table(
            ["query", "step", "us/request", "% of execute"],
            rows,
            title=f"Request breakdown, in-process, {requests} sequential requests; flows of {flow_nodes} nodes; {machine()}",
        )
    )
