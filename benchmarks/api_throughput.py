"""Requests per second of typical GraphQL queries against the real server, next to bare
Strawberry apps doing the same and a bare Starlette endpoint, in the same run (docs/performance.md).

    uv run python -m benchmarks.api_throughput [--seconds 2.5] [--repeats 3] [--concurrency 32]
                                               [--client wrk|raw|httpx] [--flow-nodes 2] [--breakdown]

Set-up: the load generator is `wrk` (Debian: `apt-get install -y wrk`); without it the raw
asyncio client below is used.

Processes, each one uvicorn worker with the project's defaults (uvloop, httptools):
- ours: `python main.py serve`, fresh embedded SQLite in a temporary directory, BCRYPT_ROUNDS=4;
  one user with 20 projects of 3 flows, each flow's graph a chain of `--flow-nodes` nodes;
- `benchmarks._bare_strawberry hello`: Strawberry `{ hello }` with ParserCache + ValidationCache;
- `benchmarks._bare_strawberry projects`: Strawberry + SQLAlchemy ORM + a per-request
  DataLoader answering the same projects query from our database file (checked to give the
  same body), without and with the two caches;
- `benchmarks._bare_app`: a bare Starlette endpoint answering the body ours gave (parses the
  request JSON, serialises the body again);
- the load generator, in a process of its own.

Queries: `{ health { status } }` (no token) against `{ hello }`, and
`{ projects(first: 20) { nodes { name flows { name } } } }` (with a bearer token: authentication,
a page, a nested list through a DataLoader) against the bare projects app. Targets: health at
least 0.8x the bare `{ hello }`, projects at least 1.5x the bare projects app.

`--concurrency` keep-alive connections (32), `--seconds` per measurement, every target measured
in turn, order reversed every other repetition, medians of `--repeats`. Besides requests per
second, each server process's CPU time per request (from /proc/<pid>/stat): on 2 shared cores,
where the load generator takes CPU from the servers, the steadier figure.

Clients: `wrk` (default), `raw` (a minimal HTTP/1.1 client on asyncio streams) and `httpx` (one
`httpx.AsyncClient`; it costs more per request than the bare endpoint, so it caps what that can
show).

--breakdown runs the app in this process instead (`create_app`, through httpx's ASGI
transport, one request at a time) with timers around the main steps of a request, and prints
the time per request spent in each. (A sampling profiler such as py-spy misplaces the time of
SQLAlchemy's async layer, which runs on greenlets; explicit timers do not.)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from benchmarks._api_data import HEALTH, PROJECTS, prepare
from benchmarks._common import (
    REPO,
    cpu_seconds,
    free_port,
    machine,
    median,
    subprocess_server,
    table,
)


def server_env() -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.endswith(("_API_KEY", "_BASE_URL"))}
    env.pop("DATABASE_URL", None)
    env.update(BCRYPT_ROUNDS="4", PYTHONPATH=str(REPO))
    return env


# --- clients ------------------------------------------------------------------------------------

Request = tuple[bytes, dict[str, str]]  # JSON body, headers


async def httpx_load(base: str, request: Request, concurrency: int, seconds: float) -> tuple[int, int]:
    body, headers = request
    headers = {**headers, "content-type": "application/json"}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=120) as http:

        async def worker(deadline: float) -> tuple[int, int]:
            done = bad = 0
            while time.perf_counter() < deadline:
                try:
                    response = await http.post("/graphql", content=body, headers=headers)
                except httpx.HTTPError as error:
                    print(f"  request failed: {error!r}")
                    return done, bad + 1
                done += 1
                if response.status_code != 200 or b'"errors"' in response.content:
                    bad += 1
                    _report_failure(response.status_code, response.content)
            return done, bad

        return await _run_workers(worker, concurrency, seconds)


async def raw_load(base: str, request: Request, concurrency: int, seconds: float) -> tuple[int, int]:
    body, headers = request
    host, port = base.removeprefix("http://").split(":")
    lines = [
        "POST /graphql HTTP/1.1",
        f"host: {host}:{port}",
        "content-type: application/json",
        f"content-length: {len(body)}",
        *(f"{name}: {value}" for name, value in headers.items()),
    ]
    message = ("\r\n".join(lines) + "\r\n\r\n").encode() + body

    async def worker(deadline: float) -> tuple[int, int]:
        reader, writer = await asyncio.open_connection(host, int(port))
        done = bad = 0
        try:
            while time.perf_counter() < deadline:
                writer.write(message)
                status, content = await _read_response(reader)
                done += 1
                if status != 200 or b'"errors"' in content:
                    bad += 1
                    _report_failure(status, content)
        except (OSError, asyncio.IncompleteReadError, ValueError) as error:
            print(f"  request failed: {error!r}")
            bad += 1
        finally:
            writer.close()
        return done, bad

    return await _run_workers(worker, concurrency, seconds)


_reported: set[bytes] = set()


def _report_failure(status: int, content: bytes) -> None:
    """Print each distinct failure once."""
    key = content[:200]
    if key not in _reported:
        _reported.add(key)
        print(f"  failed request: HTTP {status}: {content[:300]!r}")


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    fields = {}
    for line in header_lines:
        if line:
            name, _, value = line.partition(":")
            fields[name.strip().lower()] = value.strip()
    if "content-length" in fields:
        content = await reader.readexactly(int(fields["content-length"]))
    else:  # chunked
        parts = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            parts.append(await reader.readexactly(size + 2))
            if size == 0:
                break
        content = b"".join(parts)
    return int(status_line.split()[1]), content


async def _run_workers(
    worker: Callable[[float], Awaitable[tuple[int, int]]], concurrency: int, seconds: float
) -> tuple[int, int]:
    deadline = time.perf_counter() + seconds
    results = await asyncio.gather(*(worker(deadline) for _ in range(concurrency)))
    return sum(r[0] for r in results), sum(r[1] for r in results)


def wrk_load(base: str, request: Request, concurrency: int, seconds: float) -> tuple[int, int]:
    body, headers = request
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write('wrk.method = "POST"\n')
        script.write(f"wrk.body = {json.dumps(body.decode())}\n")
        script.write('wrk.headers["content-type"] = "application/json"\n')
        for name, value in headers.items():
            script.write(f"wrk.headers[{json.dumps(name)}] = {json.dumps(value)}\n")
    try:
        output = subprocess.run(
            ["wrk", "-t1", f"-c{concurrency}", f"-d{max(1, round(seconds))}s", "-s", script.name, f"{base}/graphql"],
            capture_output=True, text=True, check=True,
        ).stdout
    finally:
        os.unlink(script.name)
    requests = int(output.split(" requests in ")[0].split()[-1])
    non_2xx = int(output.split("Non-2xx or 3xx responses:")[1].split()[0]) if "Non-2xx" in output else 0
    return requests, non_2xx


# --- main ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Comparison:
    """Our server answering `query` against an anchor answering `anchor_query`, side by side."""

    query: str
    anchor: str
    anchor_query: str
    target: float | None  # ours/anchor requests per second at least this (None: for reference)


COMPARISONS = (
    Comparison("health", "strawberry {hello}, caches", "hello", 0.8),
    Comparison("projects", "strawberry + SQLAlchemy ORM + DataLoader", "projects", 1.5),
    Comparison("projects", "same, with caches", "projects", None),
    Comparison("health", "bare Starlette, canned body", "health", None),
    Comparison("projects", "bare Starlette, canned body", "projects", None),
)


async def main(seconds: float, repeats: int, concurrency: int, flow_nodes: int, client: str) -> None:
    loads: dict[str, Callable[..., Any]] = {"httpx": httpx_load, "raw": raw_load, "wrk": wrk_load}
    if client == "wrk" and not shutil.which("wrk"):
        print("wrk is not installed (apt-get install -y wrk): using the raw asyncio client")
        client = "raw"
    load = loads[client]
    with tempfile.TemporaryDirectory(prefix="bench-api-") as workdir, contextlib.ExitStack() as stack:
        port = free_port()
        server_args = [str(REPO / "main.py"), "serve", "--port", str(port), "--log-level", "warning"]
        server = stack.enter_context(
            subprocess_server(server_args, port=port, cwd=workdir, env=server_env(), inherit_env=False)
        )
        base = f"http://127.0.0.1:{port}"
        token = await prepare(base, flow_nodes)
        requests: dict[str, Request] = {
            "projects": (json.dumps({"query": PROJECTS}).encode(), {"authorization": f"Bearer {token}"}),
            "health": (json.dumps({"query": HEALTH}).encode(), {}),
            "hello": (json.dumps({"query": "{ hello }"}).encode(), {}),
        }
        bodies = await _answers(base, requests, ("projects", "health"))
        projects = bodies[PROJECTS]["data"]["projects"]["nodes"]
        assert len(projects) == 20 and all(len(p["flows"]) == 3 for p in projects)
        bodies_file = Path(workdir) / "bodies.json"
        bodies_file.write_text(json.dumps(bodies))
        database = f"sqlite+aiosqlite:///{Path(workdir) / 'flows.sqlite3'}"
        anchors = {
            "strawberry {hello}, caches": ["hello"],
            "strawberry + SQLAlchemy ORM + DataLoader": ["projects", "--database", database, "--no-caches"],
            "same, with caches": ["projects", "--database", database],
            "bare Starlette, canned body": None,
        }
        targets: dict[str, tuple[str, int]] = {"ours": (base, server.pid)}
        for name, args in anchors.items():
            anchor_port = free_port()
            module_args = (
                ["-m", "benchmarks._bare_strawberry", *args, "--port", str(anchor_port)]
                if args is not None
                else ["-m", "benchmarks._bare_app", "--port", str(anchor_port), "--bodies", str(bodies_file)]
            )
            process = stack.enter_context(
                subprocess_server(module_args, port=anchor_port, cwd=REPO, env={"PYTHONPATH": str(REPO)})
            )
            targets[name] = (f"http://127.0.0.1:{anchor_port}", process.pid)
        anchor_bodies = {
            name: await _answers(url, requests, [c.anchor_query for c in COMPARISONS if c.anchor == name])
            for name, (url, _) in targets.items() if name != "ours"
        }
        _check_same_projects(bodies[PROJECTS], anchor_bodies["strawberry + SQLAlchemy ORM + DataLoader"][PROJECTS])
        runs = sorted({(c.query, "ours") for c in COMPARISONS} | {(c.anchor_query, c.anchor) for c in COMPARISONS})
        rps: dict[tuple[str, str], list[float]] = {}
        cpu: dict[tuple[str, str], list[float]] = {}
        failures = 0
        for query, target in runs:  # warm-up
            await _measure(load, targets[target][0], requests[query], concurrency, 0.5)
        for rep in range(repeats):
            for query, target in runs if rep % 2 == 0 else runs[::-1]:
                url, pid = targets[target]
                before = cpu_seconds(pid)
                done, bad, elapsed = await _measure(load, url, requests[query], concurrency, seconds)
                failures += bad
                rps.setdefault((query, target), []).append(done / elapsed)
                cpu.setdefault((query, target), []).append((cpu_seconds(pid) - before) * 1e6 / max(done, 1))
    rows = []
    for c in COMPARISONS:
        ours, anchor = median(rps[(c.query, "ours")]), median(rps[(c.anchor_query, c.anchor)])
        ours_cpu, anchor_cpu = median(cpu[(c.query, "ours")]), median(cpu[(c.anchor_query, c.anchor)])
        verdict = "-" if c.target is None else ("met" if ours / anchor >= c.target else "NOT met")
        target = "-" if c.target is None else f">= {c.target:g}"
        rows.append([c.query, ours, c.anchor, anchor, ours / anchor, target, verdict, ours_cpu, anchor_cpu])
    print(
        table(
            ["query", "ours rps", "anchor", "anchor rps", "ours/anchor", "target", "",
             "ours cpu us/req", "anchor cpu us/req"],
            rows,
            title=(
                f"API throughput ({client}): {concurrency} connections, {seconds:g} s per measurement, "
                f"medians of {repeats}; flows of {flow_nodes} nodes; {machine()}"
            ),
        )
    )
    print(f"\nfailed requests (non-200 or GraphQL errors): {failures}")


async def _answers(base: str, requests: dict[str, Request], names: Iterable[str]) -> dict[str, Any]:
    """Query text -> the body `base` answers it with (no errors allowed)."""
    found = {}
    async with httpx.AsyncClient(base_url=base) as http:
        for name in names:
            body, headers = requests[name]
            response = await http.post("/graphql", content=body, headers={**headers, "content-type": "application/json"})
            answer = response.json()
            assert not answer.get("errors"), answer
            found[json.loads(body)["query"]] = answer
    return found


def _check_same_projects(ours: dict[str, Any], anchor: dict[str, Any]) -> None:
    # The anchor must do the same work: the same projects and flows, in the same order.
    assert ours == anchor, (ours, anchor)


async def _measure(
    load: Callable[..., Any], url: str, request: Request, concurrency: int, seconds: float
) -> tuple[int, int, float]:
    begin = time.perf_counter()
    if load is wrk_load:
        done, bad = await asyncio.to_thread(load, url, request, concurrency, seconds)
    else:
        done, bad = await load(url, request, concurrency, seconds)
    return done, bad, time.perf_counter() - begin


def cli() -> None:
    arguments = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    arguments.add_argument("--seconds", type=float, default=2.5)
    arguments.add_argument("--repeats", type=int, default=3)
    arguments.add_argument("--concurrency", type=int, default=32)
    arguments.add_argument("--client", choices=["wrk", "raw", "httpx"], default="wrk")
    arguments.add_argument("--flow-nodes", type=int, default=2, help="nodes in each stored flow's graph")
    arguments.add_argument("--breakdown", action="store_true", help="time the steps of a request, in-process")
    options = arguments.parse_args()
    if options.breakdown:
        from benchmarks._api_breakdown import breakdown

        asyncio.run(breakdown(options.flow_nodes))
    else:
        asyncio.run(main(options.seconds, options.repeats, options.concurrency, options.flow_nodes, options.client))


if __name__ == "__main__":
    cli()
