"""Hundreds of simultaneous runFlow subscriptions over real websockets against the real server.

    uv run python -m benchmarks.concurrent_runs [--sizes 50,200,500] [--provider-concurrency 32]
                                                [--words 20] [--chunk-delay 0.02]
                                                [--profile-server PREFIX]

Processes (the machine's cores are shared by all three):
- a fake OpenAI-compatible provider (`tests.fakes.providers.fake_provider_app`, in a process of
  its own): each chat completion streams `--words` one-word chunks, `--chunk-delay` apart;
- the real server, `python main.py serve --port P`, started afresh for each N in an empty
  temporary directory (so a new embedded SQLite database, migrated and seeded at start-up),
  with MISTRAL_API_KEY=x, MISTRAL_BASE_URL=the fake, BCRYPT_ROUNDS=4 and PROVIDER_CONCURRENCY;
- this process: signs a user up, opens N websockets (graphql-transport-ws, token in
  connection_init), waits until every one is acknowledged, then starts a `runFlow` subscription
  on each at once: initialPrompt -> promptEnhancer -> textOutput (provider mistral), so every
  run streams deltas.

Per N: runs completed (seq contiguous from 1 and the last event RunCompleted), events
delivered, events lost (a gap in seq or a missing end: must be 0), p50 / p99 event latency (the
event's `at` timestamp, set by the engine, to the moment this process received the message;
same machine, same clock), wall time (subscriptions sent -> last run complete), and the server
process's peak memory (VmHWM in /proc/<pid>/status; the server is fresh for each N) next to its
memory when idle before the runs. A second table gives the CPU time each process used during
the runs: when the server's CPU time is close to the wall time, the server is the bottleneck.
The per-provider limit (default 32 calls in flight, PROVIDER_CONCURRENCY) queues the provider calls
of the other runs; `--provider-concurrency 500` lets them all stream at once.

--profile-server PREFIX runs the server under py-spy (fetched by `uvx`, not a project
dependency), sampling the thread holding the GIL, and prints where its CPU went by activity.
py-spy cannot follow SQLAlchemy's greenlets well, so database shares are approximate.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import websockets

from benchmarks._common import (
    REPO,
    child_pid,
    cpu_seconds,
    free_port,
    machine,
    percentile,
    py_spy_wrapper,
    raise_fd_limit,
    status_kib,
    subprocess_server,
    summarise_collapsed,
    table,
)

RUN_FLOW = """subscription($input: RunInput!) { runFlow(input: $input) {
  __typename runId seq at
  ... on NodeStatusChanged { nodeId status }
  ... on NodeOutputDelta { nodeId delta }
  ... on NodeCompleted { nodeId output }
  ... on RunCompleted { outputs }
  ... on RunFailed { error }
} }"""

SIGNUP = """mutation($input: SignupInput!) { signup(input: $input) { accessToken } }"""

GRAPH = {
    "nodes": [
        {"id": "prompt", "type": "initialPrompt", "position": {"x": 0, "y": 0},
         "data": {"text": "A lighthouse keeper finds a message in a bottle."}},
        {"id": "enhance", "type": "promptEnhancer", "position": {"x": 300, "y": 0},
         "data": {"notes": "moody, cinematic"}},
        {"id": "out", "type": "textOutput", "position": {"x": 600, "y": 0}, "data": {"label": "Story"}},
    ],
    "edges": [
        {"id": "e1", "source": "prompt", "target": "enhance", "sourceHandle": "text", "targetHandle": "text"},
        {"id": "e2", "source": "enhance", "target": "out", "sourceHandle": "text", "targetHandle": "text"},
    ],
    "viewport": {"x": 0, "y": 0, "zoom": 1},
}


# Where server samples go (see `summarise_collapsed`): the frame nearest the leaf decides.
PROFILE_CATEGORIES = [
    ("_find_and_load", "module import (one-time: the provider SDK on the first call)"),
    ("execute_subscription_event", "GraphQL: execute the selection for each event"),
    ("validate (graphql/validation", "GraphQL: validate the subscription document"),
    ("parse (graphql/language", "GraphQL: parse the subscription document"),
    ("send_message (strawberry", "websocket: send (strawberry -> starlette -> uvicorn)"),
    ("RunJournal", "run log: group-commit writes (SQLAlchemy Core)"),
    ("OpenAICompatibleProvider", "provider client (openai SDK, httpx2)"),
    ("RunManager.start", "run start (insert the run row)"),
    ("services/execution/", "engine (runner, executors)"),
    ("RunManager", "RunManager (stream, finish)"),
    ("on_ws_connect", "websocket: connection_init (token check)"),
    ("websockets_sansio_impl", "websocket: uvicorn protocol"),
    ("graphql_transport_ws", "strawberry graphql-transport-ws handler"),
]


@dataclass(frozen=True)
class _Server:
    pid: int


@dataclass
class RunResult:
    received: list[tuple[float, dict[str, Any]]] = field(default_factory=list)  # (wall clock, message)
    error: str | None = None
    done_at: float = 0.0


async def one_run(
    url: str, token: str, connected: asyncio.Queue[None], gate: asyncio.Event, graph: dict[str, Any] = GRAPH
) -> RunResult:
    result = RunResult()
    announced = False
    try:
        async with websockets.connect(
            url,
            subprotocols=[websockets.Subprotocol("graphql-transport-ws")],
            open_timeout=120,
            ping_interval=None,  # the server pings; keep-alive traffic is not what we measure
            max_size=None,
            compression=None,
        ) as socket:
            await socket.send(json.dumps({"type": "connection_init", "payload": {"token": token}}))
            ack = json.loads(await socket.recv())
            announced = True
            connected.put_nowait(None)
            if ack.get("type") != "connection_ack":
                result.error = f"no ack: {ack}"
                return result
            await gate.wait()
            subscribe = {"id": "1", "type": "subscribe",
                         "payload": {"query": RUN_FLOW, "variables": {"input": {"graph": graph, "providerId": "mistral"}}}}
            await socket.send(json.dumps(subscribe))
            while True:
                raw = await socket.recv()
                now = time.time()  # before any parsing
                message = json.loads(raw)
                kind = message.get("type")
                if kind == "next":
                    result.received.append((now, message))
                elif kind == "ping":
                    await socket.send('{"type":"pong"}')
                elif kind == "complete":
                    break
                elif kind != "pong":
                    result.error = f"unexpected message: {str(raw)[:300]}"
                    break
            result.done_at = time.time()
    except Exception as error:  # a benchmark reports failures rather than stopping
        result.error = f"{type(error).__name__}: {error}"
        if not announced:
            connected.put_nowait(None)
    return result


@dataclass
class Analysis:
    completed: int = 0
    delivered: int = 0
    lost: int = 0
    errors: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)


def analyse(results: list[RunResult]) -> Analysis:
    analysis = Analysis()
    for result in results:
        events = []
        for received_at, message in result.received:
            if message["payload"].get("errors"):
                analysis.errors.append(str(message["payload"]["errors"])[:300])
                continue
            event = message["payload"]["data"]["runFlow"]
            events.append(event)
            sent_at = datetime.fromisoformat(event["at"]).timestamp()
            analysis.latencies.append(received_at - sent_at)
        analysis.delivered += len(events)
        seqs = [event["seq"] for event in events]
        ended = bool(events) and events[-1]["__typename"] == "RunCompleted"
        # Lost: gaps in 1..max(seq), plus one for a missing final event.
        expected = max(seqs, default=0)
        analysis.lost += expected - len(set(seqs)) + (0 if ended else 1)
        if seqs == list(range(1, len(seqs) + 1)) and ended:
            analysis.completed += 1
        elif result.error is None:
            last = events[-1] if events else None
            analysis.errors.append(f"run ended with {last and last['__typename']}: {last}"[:300])
        if result.error:
            analysis.errors.append(result.error)
    return analysis


def server_env(provider_url: str, provider_concurrency: int) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.endswith(("_API_KEY", "_BASE_URL"))}
    env.pop("DATABASE_URL", None)
    env.update(
        MISTRAL_API_KEY="x",
        MISTRAL_BASE_URL=provider_url,
        BCRYPT_ROUNDS="4",
        PROVIDER_CONCURRENCY=str(provider_concurrency),
        MAX_RUNS_PER_USER="100000",  # one user runs them all
        PYTHONPATH=str(REPO),
    )
    return env


async def measure(
    n: int, provider_url: str, provider_concurrency: int, provider_pid: int, profile: str | None
) -> tuple[list[object], list[object]]:
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="bench-server-") as workdir:
        server_args = [str(REPO / "main.py"), "serve", "--port", str(port), "--log-level", "warning"]
        wrapper = py_spy_wrapper(f"{Path(profile).resolve()}.{n}.txt") if profile else []
        env = server_env(provider_url, provider_concurrency)
        with subprocess_server(
            server_args, port=port, cwd=workdir, env=env, inherit_env=False, wrapper=wrapper
        ) as process:
            server = _Server(child_pid(process.pid) if profile else process.pid)
            base = f"http://127.0.0.1:{port}"
            async with httpx.AsyncClient(base_url=base, timeout=60) as http:
                response = await http.post(
                    "/graphql",
                    json={"query": SIGNUP, "variables": {"input": {
                        "email": "bench@example.com", "username": "bench", "password": "correct horse battery"}}},
                )
                token = response.json()["data"]["signup"]["accessToken"]
            idle = status_kib(server.pid)
            url = f"ws://127.0.0.1:{port}/graphql"
            connected: asyncio.Queue[None] = asyncio.Queue()
            gate = asyncio.Event()
            connect_begin = time.perf_counter()
            tasks = [asyncio.create_task(one_run(url, token, connected, gate)) for _ in range(n)]
            for _ in range(n):
                await connected.get()
            connect_seconds = time.perf_counter() - connect_begin
            cpu_before = [cpu_seconds(server.pid), cpu_seconds(provider_pid), cpu_seconds()]
            begin = time.time()
            gate.set()
            results = await asyncio.wait_for(asyncio.gather(*tasks), timeout=300)
            wall = max((r.done_at for r in results), default=begin) - begin
            cpu_after = [cpu_seconds(server.pid), cpu_seconds(provider_pid), cpu_seconds()]
            peak = status_kib(server.pid)
    server_cpu, provider_cpu, client_cpu = (a - b for a, b in zip(cpu_after, cpu_before, strict=True))
    analysis = analyse(results)
    for error in analysis.errors[:5]:
        print(f"  N={n}: {error}")
    delivery: list[object] = [
        n,
        analysis.completed,
        analysis.delivered,
        analysis.lost,
        len(analysis.errors),
        percentile(analysis.latencies, 0.50) * 1000,
        percentile(analysis.latencies, 0.99) * 1000,
        max(analysis.latencies, default=float("nan")) * 1000,
        wall,
        analysis.delivered / wall if wall else float("nan"),
    ]
    resources: list[object] = [
        n,
        connect_seconds,
        server_cpu,
        server_cpu * 1e6 / analysis.delivered if analysis.delivered else float("nan"),
        provider_cpu,
        client_cpu,
        idle.get("VmRSS", 0) / 1024,
        peak.get("VmHWM", 0) / 1024,
        (peak.get("VmHWM", 0) - idle.get("VmRSS", 0)) / 1024 / n,
    ]
    return delivery, resources


async def main(
    sizes: list[int], provider_concurrency: int, words: int, chunk_delay: float, profile: str | None
) -> None:
    soft, hard = raise_fd_limit(4 * max(sizes) + 1024)
    print(f"file descriptors: soft limit {soft}, hard limit {hard} (need ~{2 * max(sizes) + 100} here)")
    provider_port = free_port()
    provider_args = ["-m", "benchmarks._fake_provider", "--port", str(provider_port),
                     "--words", str(words), "--chunk-delay", str(chunk_delay)]
    rows = []
    with subprocess_server(provider_args, port=provider_port, cwd=REPO, env={"PYTHONPATH": str(REPO)}) as provider:
        provider_url = f"http://127.0.0.1:{provider_port}"
        for n in sizes:
            rows.append(await measure(n, provider_url, provider_concurrency, provider.pid, profile))
    print(
        table(
            ["N", "completed", "events", "lost", "errors", "p50 ms", "p99 ms", "max ms", "wall s", "events/s"],
            [delivery for delivery, _ in rows],
            title=(
                f"Concurrent runFlow subscriptions: {words} deltas per run, {chunk_delay * 1000:.0f} ms apart; "
                f"PROVIDER_CONCURRENCY={provider_concurrency}; {machine()}"
            ),
        )
    )
    print()
    print(
        table(
            ["N", "connect s", "server cpu s", "server cpu us/event", "fake provider cpu s", "client cpu s",
             "server idle MiB", "server peak MiB", "MiB/run"],
            [resources for _, resources in rows],
            title="Resources (CPU during the runs; server memory from /proc/<pid>/status: VmRSS idle, VmHWM peak)",
        )
    )
    if profile:
        for n in sizes:
            print(f"\nserver profile, N={n} ({profile}.{n}.txt):")
            print(summarise_collapsed(f"{Path(profile).resolve()}.{n}.txt", categories=PROFILE_CATEGORIES))
    lost = sum(int(delivery[3]) for delivery, _ in rows)  # type: ignore[call-overload]
    print(f"\nevents lost: {lost} ({'OK' if lost == 0 else 'FAILED: every event must arrive'})")


def cli() -> None:
    arguments = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    arguments.add_argument("--sizes", default="50,200,500")
    arguments.add_argument("--provider-concurrency", type=int, default=32)
    arguments.add_argument("--words", type=int, default=20)
    arguments.add_argument("--chunk-delay", type=float, default=0.02)
    arguments.add_argument(
        "--profile-server",
        metavar="PREFIX",
        help="run the server under py-spy (through uvx); raw stacks go to PREFIX.<N>.txt, a summary is printed",
    )
    options = arguments.parse_args()
    sizes = [int(size) for size in options.sizes.split(",")]
    asyncio.run(
        main(sizes, options.provider_concurrency, options.words, options.chunk_delay, options.profile_server)
    )


if __name__ == "__main__":
    cli()
