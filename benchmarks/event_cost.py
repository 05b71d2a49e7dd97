"""Server CPU per delivered run event: the project against a bare Strawberry subscription
yielding the same events, over the same client, side by side (target ours/bare <= 1.5).

    uv run python -m benchmarks.event_cost [--runs 200] [--repeats 3] [--words 20]
                                           [--chunk-delay 0.02] [--delta-window-ms 0]
                                           [--profile [--profile-out FILE]]

Processes (the machine's cores are shared by all of them):
- the fake OpenAI-compatible provider (`benchmarks._fake_provider`): `--words` one-word chunks,
  `--chunk-delay` apart, per completion;
- ours: `python main.py serve` in an empty temporary directory (fresh embedded SQLite), the
  provider `mistral` pointed at the fake, PROVIDER_CONCURRENCY = `--runs` (every run streams
  at once, as the bare app's do), MAX_RUNS_PER_USER above `--runs` (one user runs them all),
  DELTA_WINDOW_MS = `--delta-window-ms`: by default 0, every provider chunk its own event, 31
  events a run, the shape the issue measured. With the server's default window (30 ms) a run
  sends about 21: its CPU falls, but its per-run costs (the provider call, the run's row) are
  shared by fewer events, so the figure per event rises; the table gives CPU per run too;
- bare: `benchmarks._bare_strawberry events`, Strawberry with ParserCache and ValidationCache
  on, whose `runFlow(input)` yields the very events a client received from ours in one probe
  run (same types, fields and values; recorded before the measurement), spaced as they arrived;
- this process, the client for both: `--runs` websockets (graphql-transport-ws, the same
  `websockets` client and the same subscription document as `concurrent_runs`), every
  subscription started at once.

A batch is `--runs` runs on one server; batches alternate between the two servers, `--repeats`
each. Per batch: the server process's CPU time during the batch (from /proc/<pid>/stat)
divided by the events it delivered. Events lost must be 0 on both. The table gives medians.

--profile samples our server with py-spy (through `uvx`, not a project dependency) during one
extra batch and prints where its CPU went, by activity.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from benchmarks._common import (
    REPO,
    cpu_seconds,
    free_port,
    machine,
    median,
    raise_fd_limit,
    subprocess_server,
    summarise_collapsed,
    table,
)
from benchmarks.concurrent_runs import SIGNUP, RunResult, analyse, one_run, server_env

# Where our server's samples go (the frame nearest the leaf decides).
PROFILE_CATEGORIES = [
    ("execute_subscription_event", "GraphQL: execute the selection for each event"),
    ("validate (graphql/validation", "GraphQL: validate the subscription document"),
    ("parse (graphql/language", "GraphQL: parse the subscription document"),
    ("encode_standard_json", "JSON: encode frames (orjson)"),
    ("send_message (strawberry", "websocket: send (strawberry -> starlette -> uvicorn)"),
    ("RunJournal", "run log: group-commit writes (SQLAlchemy Core)"),
    ("follow_run", "run log: followers"),
    ("RunTail", "run log: live tail"),
    ("server_sent_events", "provider stream: SSE parsing"),
    ("OpenAICompatibleProvider", "provider client (SDK's httpx client, requests)"),
    ("httpx", "provider client (httpx)"),
    ("RunManager.start", "run start (insert the run row)"),
    ("services/execution/", "engine (runner, executors)"),
    ("RunManager", "RunManager"),
    ("on_ws_connect", "websocket: connection_init (token check)"),
    ("websockets_sansio_impl", "websocket: uvicorn protocol"),
    ("graphql_transport_ws", "strawberry graphql-transport-ws handler"),
    ("strawberry/extensions", "strawberry extension hooks"),
]


async def signup(base: str) -> str:
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:
        response = await http.post(
            "/graphql",
            json={"query": SIGNUP, "variables": {"input": {
                "email": "bench@example.com", "username": "bench", "password": "correct horse battery"}}},
        )
        return str(response.json()["data"]["signup"]["accessToken"])


async def batch(url: str, token: str, runs: int, pid: int, profile: Path | None = None) -> tuple[list[RunResult], float]:
    """`runs` subscriptions at once; the server's CPU seconds meanwhile."""
    connected: asyncio.Queue[None] = asyncio.Queue()
    gate = asyncio.Event()
    tasks = [asyncio.create_task(one_run(url, token, connected, gate)) for _ in range(runs)]
    for _ in range(runs):
        await connected.get()
    spy = None
    if profile is not None:
        spy = subprocess.Popen(
            ["uvx", "py-spy", "record", "--gil", "--nolineno", "--format", "raw", "--rate", "250",
             "-p", str(pid), "-o", str(profile)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        await asyncio.sleep(3)  # py-spy attaches
    before = cpu_seconds(pid)
    gate.set()
    results = await asyncio.wait_for(asyncio.gather(*tasks), timeout=600)
    used = cpu_seconds(pid) - before
    if spy is not None:
        spy.send_signal(signal.SIGINT)
        spy.wait(timeout=60)
    return results, used


def recording(result: RunResult) -> list[tuple[float, dict[str, Any]]]:
    """(seconds since the previous event, the event as received) for one run."""
    found = []
    previous = None
    for received_at, message in result.received:
        found.append((0.0 if previous is None else received_at - previous, message["payload"]["data"]["runFlow"]))
        previous = received_at
    return found


async def main(
    runs: int, repeats: int, words: int, chunk_delay: float, delta_window_ms: int, profile: bool, profile_out: Path | None
) -> None:
    raise_fd_limit(4 * runs + 1024)
    provider_port, port, bare_port = free_port(), free_port(), free_port()
    provider_args = ["-m", "benchmarks._fake_provider", "--port", str(provider_port),
                     "--words", str(words), "--chunk-delay", str(chunk_delay)]
    server_args = [str(REPO / "main.py"), "serve", "--port", str(port), "--log-level", "warning"]
    with contextlib.ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-events-")))
        stack.enter_context(
            subprocess_server(provider_args, port=provider_port, cwd=REPO, env={"PYTHONPATH": str(REPO)})
        )
        env = server_env(f"http://127.0.0.1:{provider_port}", provider_concurrency=max(runs, 32))
        env["MAX_RUNS_PER_USER"] = str(runs + 10)  # one user runs them all
        env["DELTA_WINDOW_MS"] = str(delta_window_ms)
        ours = stack.enter_context(subprocess_server(server_args, port=port, cwd=workdir, env=env, inherit_env=False))
        token = await signup(f"http://127.0.0.1:{port}")
        our_url = f"ws://127.0.0.1:{port}/graphql"
        probe, _ = await batch(our_url, token, 1, ours.pid)
        assert analyse(probe).completed == 1, analyse(probe).errors
        events_per_run = len(probe[0].received)
        recorded = workdir / "recording.json"
        recorded.write_text(json.dumps(recording(probe[0])))
        bare = stack.enter_context(
            subprocess_server(
                ["-m", "benchmarks._bare_strawberry", "events", "--port", str(bare_port), "--recording", str(recorded)],
                port=bare_port, cwd=REPO, env={"PYTHONPATH": str(REPO)},
            )
        )
        targets = {"ours": (our_url, ours.pid), "bare": (f"ws://127.0.0.1:{bare_port}/graphql", bare.pid)}
        for url, pid in targets.values():  # warm-up
            await batch(url, token, min(runs, 20), pid)
        per_event: dict[str, list[float]] = {"ours": [], "bare": []}
        per_run: dict[str, list[float]] = {"ours": [], "bare": []}
        walls: dict[str, list[float]] = {"ours": [], "bare": []}
        lost = {"ours": 0, "bare": 0}
        delivered = {"ours": 0, "bare": 0}
        for rep in range(repeats):
            for name in ("ours", "bare") if rep % 2 == 0 else ("bare", "ours"):
                url, pid = targets[name]
                begin = time.perf_counter()
                results, used = await batch(url, token, runs, pid)
                walls[name].append(time.perf_counter() - begin)
                analysis = analyse(results)
                for error in analysis.errors[:3]:
                    print(f"  {name}: {error}")
                lost[name] += analysis.lost
                delivered[name] += analysis.delivered
                per_event[name].append(used * 1e6 / max(analysis.delivered, 1))
                per_run[name].append(used * 1e3 / runs)
        profile_file = profile_out or workdir / "ours.profile.txt"
        if profile:
            await batch(our_url, token, runs, ours.pid, profile=profile_file)
        load = os.getloadavg()
        print(
            table(
                ["server", "runs", "events/run", "events", "lost", "wall s", "server cpu ms/run", "server cpu us/event",
                 "ours/bare"],
                [
                    [name, runs, events_per_run, delivered[name], lost[name], median(walls[name]), median(per_run[name]),
                     median(per_event[name]), median(per_event[name]) / median(per_event["bare"])]
                    for name in ("ours", "bare")
                ],
                title=(
                    f"Server CPU per delivered event: {runs} concurrent runFlow subscriptions, {words} provider chunks "
                    f"{chunk_delay * 1000:.0f} ms apart, DELTA_WINDOW_MS={delta_window_ms}; medians of {repeats}; "
                    f"{machine()}; "
                    f"load average {load[0]:.1f}"
                ),
            )
        )
        ratio = median(per_event["ours"]) / median(per_event["bare"])
        print(f"\nours/bare {ratio:.2f} (target <= 1.5: {'met' if ratio <= 1.5 else 'NOT met'}); "
              f"per batch ours {[round(v) for v in per_event['ours']]}, bare {[round(v) for v in per_event['bare']]}")
        if profile:
            print("\nour server's profile during one more batch:")
            print(summarise_collapsed(profile_file, categories=PROFILE_CATEGORIES, top=25))


def cli() -> None:
    arguments = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    arguments.add_argument("--runs", type=int, default=200)
    arguments.add_argument("--repeats", type=int, default=3)
    arguments.add_argument("--words", type=int, default=20)
    arguments.add_argument("--chunk-delay", type=float, default=0.02)
    arguments.add_argument("--delta-window-ms", type=int, default=0, help="the server's DELTA_WINDOW_MS")
    arguments.add_argument("--profile", action="store_true", help="sample our server with py-spy during one more batch")
    arguments.add_argument("--profile-out", type=Path, help="with --profile: keep py-spy's raw samples in this file")
    options = arguments.parse_args()
    asyncio.run(
        main(
            options.runs, options.repeats, options.words, options.chunk_delay, options.delta_window_ms,
            options.profile, options.profile_out,
        )
    )


if __name__ == "__main__":
    cli()
