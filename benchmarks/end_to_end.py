"""End to end over graphql-transport-ws against the real server and a stand-in provider
: the 60-node DAG with real-call latencies, a 1,000-node graph, 1,000 runs at once.

    uv run python -m benchmarks.end_to_end [--repeats 3] [--skip-concurrent] [--concurrent 1000]

Processes: the real server (`python main.py serve`, fresh embedded SQLite in a temporary
directory, BCRYPT_ROUNDS=4, MISTRAL pointed at the stand-in), the stand-in provider, and this
process as the client (`websockets`, graphql-transport-ws, the token in connection_init; the
client of `concurrent_runs`).

1. dag60 x10: `benchmarks/data/dag60.json` (60 nodes, critical path 429 ms) with every latency
   multiplied by 10 (real LLM calls take seconds): a source `initialPrompt`, then one
   `promptEnhancer` per node whose provider call takes the node's latency
   (`benchmarks._delay_provider`: the node's notes say `delay=<ms>`, the reply is 6 chunks spread
   over it). PROVIDER_CONCURRENCY 64, above the DAG's width, so the per-provider limit does not
   serialise calls the DAG allows at once. Wall time from the subscribe message to RunCompleted
   received, over the critical path (4,290 ms). Target <= 1.10.
2. 1,000 nodes, no provider: `benchmarks.engine_overhead`'s `chains` shape (50 chains
   initialPrompt -> 18 compressors -> textOutput), subscribe to RunCompleted. Target < 1 s.
3. `--concurrent` (1,000) runFlow subscriptions at once on one server process: the measurement
   of `benchmarks.concurrent_runs` (its fake provider, 20 chunks 20 ms apart, three-node flow),
   PROVIDER_CONCURRENCY = the number of runs: events lost (must be 0), p50/p99 event latency, and
   memory per run (peak minus idle resident memory, over the runs).
Medians of `--repeats` for 1 and 2.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import tempfile
import time
from typing import Any

from benchmarks._common import REPO, free_port, machine, median, raise_fd_limit, subprocess_server, table
from benchmarks.concurrent_runs import analyse, measure, one_run, server_env
from benchmarks.engine_overhead import chains
from benchmarks.event_cost import signup
from benchmarks.langflow_scheduling import DAG60, load_dag

SCALE = 10


def dag_graph(nodes: list[list[Any]]) -> dict[str, Any]:
    """The DAG as an editor graph: the source an initialPrompt, each node a promptEnhancer
    whose provider call takes SCALE x its latency."""
    graph_nodes = []
    for i, (node_id, latency, parents) in enumerate(nodes):
        if not parents:
            data = {"text": "A lighthouse keeper finds a message in a bottle."}
            graph_nodes.append({"id": node_id, "type": "initialPrompt", "position": {"x": 0.0, "y": 0.0}, "data": data})
        else:
            data = {"notes": f"delay={int(latency) * SCALE}"}
            graph_nodes.append({"id": node_id, "type": "promptEnhancer", "position": {"x": float(i), "y": 0.0}, "data": data})
    edges = [
        {"id": f"{parent}-{node_id}", "source": parent, "target": node_id, "sourceHandle": "text", "targetHandle": "text"}
        for node_id, _, parents in nodes
        for parent in parents
    ]
    return {"nodes": graph_nodes, "edges": edges, "viewport": {"x": 0, "y": 0, "zoom": 1}}


async def one_timed_run(url: str, token: str, graph: dict[str, Any]) -> tuple[float, int]:
    """(seconds from subscribing to the last event, events) of one run; raises if it failed."""
    connected: asyncio.Queue[None] = asyncio.Queue()
    gate = asyncio.Event()
    task = asyncio.create_task(one_run(url, token, connected, gate, graph=graph))
    await connected.get()
    begin = time.time()
    gate.set()
    result = await task
    analysis = analyse([result])
    if analysis.completed != 1:
        raise RuntimeError(f"the run did not complete: {analysis.errors[:3]}")
    return result.received[-1][0] - begin, analysis.delivered


@contextlib.contextmanager
def server(provider_url: str, provider_concurrency: int) -> Any:
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="bench-e2e-") as workdir:
        args = [str(REPO / "main.py"), "serve", "--port", str(port), "--log-level", "warning"]
        env = server_env(provider_url, provider_concurrency)
        with subprocess_server(args, port=port, cwd=workdir, env=env, inherit_env=False):
            yield port


async def graphs(repeats: int) -> None:
    nodes, dag = load_dag(DAG60)
    critical = dag.critical_path() * SCALE
    provider_port = free_port()
    provider_args = ["-m", "benchmarks._delay_provider", "--port", str(provider_port)]
    with (
        subprocess_server(provider_args, port=provider_port, cwd=REPO, env={"PYTHONPATH": str(REPO)}),
        server(f"http://127.0.0.1:{provider_port}", 64) as port,
    ):
        token = await signup(f"http://127.0.0.1:{port}")
        url = f"ws://127.0.0.1:{port}/graphql"
        big = chains(1000)
        dag_runs, big_runs = [], []
        await one_timed_run(url, token, big)  # warm-up
        for _ in range(repeats):
            dag_runs.append(await one_timed_run(url, token, dag_graph(nodes)))
            big_runs.append(await one_timed_run(url, token, big))
    dag_wall = median([wall for wall, _ in dag_runs])
    big_wall = median([wall for wall, _ in big_runs])
    rows = [
        ["dag60 x10 (60 provider calls)", dag.size, dag_runs[0][1], critical * 1000, dag_wall * 1000,
         dag_wall / critical, "<= 1.10: " + ("met" if dag_wall / critical <= 1.10 else "NOT met")],
        ["chains, no provider", len(big["nodes"]), big_runs[0][1], float("nan"), big_wall * 1000,
         float("nan"), "< 1,000 ms: " + ("met" if big_wall < 1 else "NOT met")],
    ]
    print(
        table(
            ["graph", "nodes", "events", "critical path ms", "wall ms", "wall/crit", "target"],
            rows,
            title=f"One run end to end over graphql-transport-ws, medians of {repeats}; {machine()}",
        )
    )
    print(f"  per run: dag60 {[round(w * 1000) for w, _ in dag_runs]} ms, chains {[round(w * 1000) for w, _ in big_runs]} ms")


async def concurrent(n: int) -> None:
    raise_fd_limit(4 * n + 1024)
    provider_port = free_port()
    provider_args = ["-m", "benchmarks._fake_provider", "--port", str(provider_port)]
    with subprocess_server(provider_args, port=provider_port, cwd=REPO, env={"PYTHONPATH": str(REPO)}) as provider:
        delivery, resources = await measure(n, f"http://127.0.0.1:{provider_port}", n, provider.pid, None)
    runs, completed, events, lost, errors, p50, p99, worst, wall, rate = delivery
    memory_per_run = resources[-1]
    print(
        table(
            ["runs", "completed", "events", "lost", "errors", "p50 ms", "p99 ms", "max ms", "wall s", "events/s",
             "server peak MiB", "MiB/run"],
            [[runs, completed, events, lost, errors, p50, p99, worst, wall, rate, resources[-2], memory_per_run]],
            title=f"{n} concurrent runFlow subscriptions on one process (PROVIDER_CONCURRENCY {n}); {machine()}",
        )
    )
    print(f"  events lost: {lost} ({'OK' if lost == 0 else 'FAILED: every event must arrive'})")


def cli() -> None:
    arguments = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    arguments.add_argument("--repeats", type=int, default=3)
    arguments.add_argument("--concurrent", type=int, default=1000)
    arguments.add_argument("--skip-concurrent", action="store_true")
    options = arguments.parse_args()
    asyncio.run(graphs(options.repeats))
    if not options.skip_concurrent:
        print()
        asyncio.run(concurrent(options.concurrent))


if __name__ == "__main__":
    cli()
