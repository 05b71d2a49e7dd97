"""One server process against three, on one PostgreSQL database and one Redis (distributed mode).

    uv run python -m benchmarks.processes [--runs 300] [--words 20] [--chunk-delay 0.02]

For 1 and then 3 `main.py serve` processes (REDIS_URL set, a fresh database and key prefix; each
process answers the API and is a worker of the run queue, so a run executes on whichever process
claims it), `--runs` runFlow subscriptions are spread round-robin over the processes, all at once, each
streaming the fake provider's reply. Printed side by side: runs completed per second, events
delivered per second, p50/p99 event latency (the event's `at` to its arrival at the client) and
events lost (gaps in seq or a missing RunCompleted: must be 0). The machine has 2 cores, so three
processes are expected to help only as far as one process was CPU-bound; the anchor is the one
process measured in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx

from benchmarks._common import REPO, free_port, machine, percentile, raise_fd_limit, subprocess_server, table
from benchmarks.concurrent_runs import SIGNUP, analyse, one_run, server_env
from tests.redis_keys import delete_keys

POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432"
REDIS_URL = "redis://127.0.0.1:6379/0"


@contextlib.contextmanager
def fresh_database() -> Iterator[str]:
    name = f"bench_{uuid.uuid4().hex[:10]}"
    _psql(f"CREATE DATABASE {name}")
    url = f"{POSTGRES}/{name}"
    try:
        for command in ("migrate", "seed"):
            subprocess.run([sys.executable, str(REPO / "main.py"), command], check=True, env=_env(url), capture_output=True)
        yield url
    finally:
        _psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _psql(statement: str) -> None:
    subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", statement], check=True)


def _env(database_url: str, **extra: str) -> dict[str, str]:
    import os

    return {**os.environ, "DATABASE_URL": database_url, "AUTH_SECRET_KEY": "b" * 40, "PYTHONPATH": str(REPO), **extra}


async def measure(processes: int, runs: int, database_url: str, provider_url: str) -> list[Any]:
    prefix = f"bench-{uuid.uuid4().hex[:8]}:"
    try:
        return await _measure(processes, runs, database_url, provider_url, prefix)
    finally:
        await delete_keys(REDIS_URL, prefix)  # streams would expire an hour after their runs


async def _measure(processes: int, runs: int, database_url: str, provider_url: str, prefix: str) -> list[Any]:
    ports = [free_port() for _ in range(processes)]
    env = {
        **server_env(provider_url, provider_concurrency=64),
        "DATABASE_URL": database_url,
        "AUTH_SECRET_KEY": "b" * 40,
        "REDIS_URL": REDIS_URL,
        "REDIS_PREFIX": prefix,
        "MAX_RUNS_PER_USER": str(runs),
        # Every process's pool, its 10 overflow connections and the run queue's 10 within
        # PostgreSQL's default max_connections of 100, as a deployment of several must keep them.
        "DATABASE_POOL_SIZE": "10",
    }
    with tempfile.TemporaryDirectory(prefix="bench-processes-") as workdir, contextlib.ExitStack() as servers:
        for port in ports:
            args = [str(REPO / "main.py"), "serve", "--port", str(port), "--log-level", "warning"]
            servers.enter_context(subprocess_server(args, port=port, cwd=workdir, env=env, inherit_env=False))
        token = await _token(ports[0], processes)
        connected: asyncio.Queue[None] = asyncio.Queue()
        gate = asyncio.Event()
        tasks = [
            asyncio.create_task(one_run(f"ws://127.0.0.1:{ports[i % processes]}/graphql", token, connected, gate))
            for i in range(runs)
        ]
        for _ in range(runs):
            await connected.get()
        begin = time.time()
        gate.set()
        results = await asyncio.wait_for(asyncio.gather(*tasks), timeout=600)
        wall = max((result.done_at for result in results), default=begin) - begin
    analysis = analyse(results)
    for error in analysis.errors[:3]:
        print(f"  {processes} process(es): {error}")
    return [
        processes,
        analysis.completed,
        analysis.completed / wall if wall else float("nan"),
        analysis.delivered / wall if wall else float("nan"),
        percentile(analysis.latencies, 0.50) * 1000,
        percentile(analysis.latencies, 0.99) * 1000,
        analysis.lost,
        wall,
    ]


async def _token(port: int, processes: int) -> str:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as http:
        account = {"email": f"bench{processes}@example.com", "username": f"bench{processes}"}
        variables = {"input": {**account, "password": "correct horse battery"}}
        response = await http.post("/graphql", json={"query": SIGNUP, "variables": variables})
        return str(response.json()["data"]["signup"]["accessToken"])


async def main(runs: int, words: int, chunk_delay: float) -> None:
    raise_fd_limit(4 * runs + 1024)
    provider_port = free_port()
    provider_args = ["-m", "benchmarks._fake_provider", "--port", str(provider_port),
                     "--words", str(words), "--chunk-delay", str(chunk_delay)]
    with fresh_database() as database_url, subprocess_server(
        provider_args, port=provider_port, cwd=REPO, env={"PYTHONPATH": str(REPO)}
    ):
        provider_url = f"http://127.0.0.1:{provider_port}"
        rows = [await measure(count, runs, database_url, provider_url) for count in (1, 3)]
    print(
        table(
            ["processes", "completed", "runs/s", "events/s", "p50 ms", "p99 ms", "lost", "wall s"],
            rows,
            title=f"{runs} runFlow subscriptions over 1 and 3 processes (PostgreSQL + Redis); {machine()}",
        )
    )
    one, three = rows
    runs_ratio, events_ratio = float(three[2]) / float(one[2]), float(three[3]) / float(one[3])
    print(f"\nthree processes / one: runs/s x{runs_ratio:.2f}, events/s x{events_ratio:.2f}")
    lost = int(one[6]) + int(three[6])
    print(f"events lost: {lost} ({'OK' if lost == 0 else 'FAILED: every event must arrive'})")


def cli() -> None:
    arguments = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    arguments.add_argument("--runs", type=int, default=300)
    arguments.add_argument("--words", type=int, default=20)
    arguments.add_argument("--chunk-delay", type=float, default=0.02)
    options = arguments.parse_args()
    asyncio.run(main(options.runs, options.words, options.chunk_delay))


if __name__ == "__main__":
    cli()
