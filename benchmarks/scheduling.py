"""Scheduling: wall time vs critical path on random DAGs, our engine vs a level-barrier baseline.

    uv run python -m benchmarks.scheduling [--repeats 3] [--quick]

Each DAG (seeded RNG) has 50-200 nodes; node i takes 1-3 parents among the 15 nodes before it
(some nodes are roots), so edges respect a topological order and the graph is both wide and
deep. Every node has a latency drawn from uniform(5, 50) ms or a lognormal (median 18 ms,
sigma 0.6, clipped to 5-150 ms).

Two schedulers run the same DAGs in the same process, alternating (ours first on even
repetitions, the baseline first on odd ones):

- ours: `run_flow` from the graph JSON (parsing excluded, validation included) to its
  RunCompleted event. Every node is a `promptEnhancer` whose executor is replaced (the
  `executors=` registry override) by one that sleeps the node's latency;
- baseline: the original design (and Langflow's): topological levels, one `asyncio.gather`
  per level, so a level starts when the slowest node of the previous level has finished.

Critical path = the longest latency-weighted path (computed). Target: ours wall / critical
path <= 1.05. `ours/meas crit` divides by the critical path of the node
durations measured in that run instead (asyncio.sleep overshoots each timer by up to ~1 ms, as
epoll rounds timeouts up to the millisecond; the baseline pays that too), which isolates the
scheduler's own cost. `lag` is the mean delay between a node's last input finishing and the
node starting, in our engine.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from benchmarks._common import machine, median, table
from services.execution.components import CATALOG
from services.execution.events import RunCompleted, RunEvent
from services.execution.executors import NodeContext
from services.execution.graph import Graph, parse_graph
from services.execution.runner import RunRequest, run_flow
from services.execution.validation import DEFAULT_LIMITS

NODE_TYPE = "promptEnhancer"  # text in (several edges), text out, no required field
WINDOW = 15
MAX_PARENTS = 3
ROOT_PROBABILITY = 0.05


@dataclass(frozen=True)
class Dag:
    name: str
    latencies: list[float]  # seconds, by node index
    parents: list[list[int]]

    @property
    def size(self) -> int:
        return len(self.latencies)

    @property
    def edge_count(self) -> int:
        return sum(len(p) for p in self.parents)

    def levels(self) -> list[list[int]]:
        level = [0] * self.size
        for i, parents in enumerate(self.parents):  # indices are a topological order
            level[i] = 1 + max((level[p] for p in parents), default=-1)
        grouped: list[list[int]] = [[] for _ in range(max(level) + 1)]
        for i, value in enumerate(level):
            grouped[value].append(i)
        return grouped

    def critical_path(self) -> float:
        finish = [0.0] * self.size
        for i, parents in enumerate(self.parents):
            finish[i] = max((finish[p] for p in parents), default=0.0) + self.latencies[i]
        return max(finish)

    def barrier_ideal(self) -> float:
        """What the level-barrier design takes with zero overhead: sum of each level's max."""
        return sum(max(self.latencies[i] for i in level) for level in self.levels())

    def graph_json(self) -> dict[str, Any]:
        nodes = [
            {"id": f"n{i}", "type": NODE_TYPE, "position": {"x": float(i), "y": 0.0}, "data": {}}
            for i in range(self.size)
        ]
        edges = [
            {
                "id": f"e{p}-{i}",
                "source": f"n{p}",
                "target": f"n{i}",
                "sourceHandle": "text",
                "targetHandle": "text",
            }
            for i, parents in enumerate(self.parents)
            for p in parents
        ]
        return {"nodes": nodes, "edges": edges, "viewport": {"x": 0, "y": 0, "zoom": 1}}


def uniform_ms(rng: random.Random) -> float:
    return rng.uniform(5, 50) / 1000


def lognormal_ms(rng: random.Random) -> float:
    return min(150.0, max(5.0, rng.lognormvariate(2.9, 0.6))) / 1000  # median e^2.9 = 18 ms


def random_dag(name: str, size: int, seed: int, latency: Callable[[random.Random], float]) -> Dag:
    rng = random.Random(seed)
    parents: list[list[int]] = []
    for i in range(size):
        if i == 0 or rng.random() < ROOT_PROBABILITY:
            parents.append([])
            continue
        window = range(max(0, i - WINDOW), i)
        parents.append(sorted(rng.sample(window, min(len(window), rng.randint(1, MAX_PARENTS)))))
    return Dag(name=name, latencies=[latency(rng) for _ in range(size)], parents=parents)


DAGS: list[tuple[str, int, int, Callable[[random.Random], float]]] = [
    ("uniform", 50, 1, uniform_ms),
    ("uniform", 100, 2, uniform_ms),
    ("uniform", 200, 3, uniform_ms),
    ("lognormal", 50, 4, lognormal_ms),
    ("lognormal", 100, 5, lognormal_ms),
    ("lognormal", 200, 6, lognormal_ms),
]


# --- our engine ---------------------------------------------------------------------------------


async def run_ours(dag: Dag, graph: Graph) -> tuple[float, float, float]:
    """(wall seconds, mean start lag seconds, critical path of the measured node durations)."""
    latency = {f"n{i}": value for i, value in enumerate(dag.latencies)}
    started: dict[str, float] = {}
    finished: dict[str, float] = {}

    async def sleeping(context: NodeContext) -> dict[str, Any]:
        node_id = context.node.id
        started[node_id] = time.perf_counter()
        await asyncio.sleep(latency[node_id])
        finished[node_id] = time.perf_counter()
        return {"text": node_id}

    request = RunRequest(run_id=str(uuid.uuid4()), graph=graph, flow_provider_id="mistral")
    begin = time.perf_counter()
    last: RunEvent | None = None
    async for event in run_flow(
        request, catalog=CATALOG, providers=_NoProviders(), executors={NODE_TYPE: sleeping}
    ):
        last = event
    wall = time.perf_counter() - begin
    if not isinstance(last, RunCompleted):
        raise RuntimeError(f"the run did not complete: {last}")
    lags = []
    for i, parents in enumerate(dag.parents):
        ready = max((finished[f"n{p}"] for p in parents), default=begin)
        lags.append(started[f"n{i}"] - ready)
    # asyncio.sleep overshoots (epoll rounds its timeout up to the millisecond): the critical
    # path of what the nodes really took separates that from the scheduler's own delays.
    measured = [finished[f"n{i}"] - started[f"n{i}"] for i in range(dag.size)]
    actual = Dag(dag.name, measured, dag.parents).critical_path()
    return wall, sum(lags) / len(lags), actual


class _NoProviders:
    def text(self, provider_id: str) -> Any:
        raise AssertionError("no provider call expected")

    def image(self, provider_id: str) -> Any:
        raise AssertionError("no provider call expected")


# --- the level-barrier baseline -----------------------------------------------------------------


async def run_barrier(dag: Dag) -> float:
    outputs: dict[int, str] = {}

    async def node(i: int) -> None:
        _ = [outputs[p] for p in dag.parents[i]]  # gather inputs, as a node would
        await asyncio.sleep(dag.latencies[i])
        outputs[i] = f"n{i}"

    begin = time.perf_counter()
    for level in dag.levels():
        await asyncio.gather(*(node(i) for i in level))
    return time.perf_counter() - begin


# --- main ---------------------------------------------------------------------------------------


async def main(repeats: int, quick: bool) -> None:
    configs = DAGS[:2] if quick else DAGS
    rows = []
    ratios_ours: list[float] = []
    speedups: list[float] = []
    for name, size, seed, latency in configs:
        dag = random_dag(name, size, seed, latency)
        graph = parse_graph(dag.graph_json(), DEFAULT_LIMITS)
        critical = dag.critical_path()
        ours: list[float] = []
        lags: list[float] = []
        actual: list[float] = []
        barrier: list[float] = []
        for rep in range(repeats):
            order = ("ours", "barrier") if rep % 2 == 0 else ("barrier", "ours")
            for which in order:
                gc.collect()
                if which == "ours":
                    wall, lag, measured = await run_ours(dag, graph)
                    ours.append(wall)
                    lags.append(lag)
                    actual.append(wall / measured)
                else:
                    barrier.append(await run_barrier(dag))
        ours_wall, barrier_wall = median(ours), median(barrier)
        ratios_ours.append(ours_wall / critical)
        speedups.append(barrier_wall / ours_wall)
        rows.append(
            [
                f"{name} s{seed}",
                dag.size,
                dag.edge_count,
                len(dag.levels()),
                critical * 1000,
                ours_wall * 1000,
                ours_wall / critical,
                median(actual),
                median(lags) * 1000,
                barrier_wall * 1000,
                barrier_wall / critical,
                dag.barrier_ideal() / critical,
                barrier_wall / ours_wall,
            ]
        )
    print(
        table(
            [
                "dag",
                "nodes",
                "edges",
                "levels",
                "crit ms",
                "ours ms",
                "ours/crit",
                "ours/meas crit",
                "lag ms",
                "barrier ms",
                "barr/crit",
                "ideal barr/crit",
                "barr/ours",
            ],
            rows,
            title=f"Scheduling: medians of {repeats} repetitions; {machine()}",
        )
    )
    worst = max(ratios_ours)
    print(
        f"\nours wall/critical path: median {median(ratios_ours):.3f}, worst {worst:.3f} "
        f"(target <= 1.05: {'met' if worst <= 1.05 else 'MISSED'}); "
        f"baseline/ours: median {median(speedups):.2f}x"
    )


def cli() -> None:
    arguments = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    arguments.add_argument("--repeats", type=int, default=3)
    arguments.add_argument("--quick", action="store_true", help="two small DAGs only")
    options = arguments.parse_args()
    asyncio.run(main(options.repeats, options.quick))


if __name__ == "__main__":
    cli()
