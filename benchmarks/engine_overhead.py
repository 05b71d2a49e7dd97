"""Engine overhead per node, on 1,000- and 2,000-node graphs of nodes that call no provider.

    uv run python -m benchmarks.engine_overhead [--repeats 7] [--profile SHAPE]

The nodes run their real executors (no override, no provider): `initialPrompt` without
adapter edges passes its text through, `compressor` passes short text through, `textOutput`
collects it. Shapes, each of `n` nodes:

- pairs:  n/2 independent initialPrompt -> textOutput pairs (wide, one level deep);
- chains: n/20 chains initialPrompt -> 18 compressors -> textOutput (wide and deep);
- deep:   one chain initialPrompt -> n-2 compressors -> textOutput (n levels);
- fan:    initialPrompt -> n-2 compressors in parallel -> one textOutput merging them all.

For each: the time to parse the JSON (`parse_graph`, done by the server before the engine, not
counted), to validate (`validate_graph`), to run from the parsed graph (validation included)
and to run from an already validated `ExecutionPlan` (validation excluded), each consuming
every event the run yields. Figures are medians of the repetitions, divided by the node count.
Target: under 100 us per node on 1,000 nodes; 50 us is the aim.

--profile SHAPE runs cProfile over one 1,000-node run of that shape and prints the top entries.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import functools
import gc
import pstats
import time
import uuid
from collections.abc import Callable
from typing import Any

from benchmarks._common import machine, median, table
from services.execution.components import CATALOG
from services.execution.events import RunCompleted
from services.execution.graph import Graph, parse_graph
from services.execution.runner import RunRequest, run_flow
from services.execution.validation import DEFAULT_LIMITS, ExecutionPlan, validate_graph

TEXT = "A lighthouse keeper finds a message in a bottle."
Json = dict[str, Any]


def _node(node_id: str, node_type: str, x: float, y: float, **data: Any) -> Json:
    return {"id": node_id, "type": node_type, "position": {"x": x, "y": y}, "data": data}


def _edge(source: str, target: str) -> Json:
    return {
        "id": f"{source}->{target}",
        "source": source,
        "target": target,
        "sourceHandle": "text",
        "targetHandle": "text",
    }


def _graph(nodes: list[Json], edges: list[Json]) -> Json:
    return {"nodes": nodes, "edges": edges, "viewport": {"x": 0, "y": 0, "zoom": 1}}


def pairs(n: int) -> Json:
    nodes: list[Json] = []
    edges: list[Json] = []
    for i in range(n // 2):
        nodes.append(_node(f"p{i}", "initialPrompt", 0, i, text=f"{TEXT} ({i})"))
        nodes.append(_node(f"o{i}", "textOutput", 1, i, label=f"out {i}"))
        edges.append(_edge(f"p{i}", f"o{i}"))
    return _graph(nodes, edges)


def chains(n: int, length: int = 20) -> Json:
    nodes: list[Json] = []
    edges: list[Json] = []
    for c in range(n // length):
        ids = [f"c{c}.{k}" for k in range(length)]
        nodes.append(_node(ids[0], "initialPrompt", 0, c, text=f"{TEXT} ({c})"))
        nodes.extend(_node(ids[k], "compressor", k, c, maxChars=2500) for k in range(1, length - 1))
        nodes.append(_node(ids[-1], "textOutput", length, c))
        edges.extend(_edge(a, b) for a, b in zip(ids, ids[1:], strict=False))
    return _graph(nodes, edges)


def deep(n: int) -> Json:
    ids = [f"d{k}" for k in range(n)]
    nodes = [_node(ids[0], "initialPrompt", 0, 0, text=TEXT)]
    nodes.extend(_node(ids[k], "compressor", k, 0) for k in range(1, n - 1))
    nodes.append(_node(ids[-1], "textOutput", n, 0))
    return _graph(nodes, [_edge(a, b) for a, b in zip(ids, ids[1:], strict=False)])


def fan(n: int) -> Json:
    middle = [f"f{k}" for k in range(n - 2)]
    nodes = [_node("source", "initialPrompt", 0, 0, text=TEXT)]
    nodes.extend(_node(node_id, "compressor", 1, k) for k, node_id in enumerate(middle))
    nodes.append(_node("sink", "textOutput", 2, 0))
    edges = [_edge("source", m) for m in middle] + [_edge(m, "sink") for m in middle]
    return _graph(nodes, edges)


SHAPES: dict[str, Callable[[int], Json]] = {"pairs": pairs, "chains": chains, "deep": deep, "fan": fan}


class _NoProviders:
    def text(self, provider_id: str) -> Any:
        raise AssertionError("no provider call expected")

    def image(self, provider_id: str) -> Any:
        raise AssertionError("no provider call expected")


async def run_once(graph: Graph | ExecutionPlan) -> tuple[float, int]:
    request = RunRequest(run_id=str(uuid.uuid4()), graph=graph, flow_provider_id="mistral")
    count = 0
    last = None
    begin = time.perf_counter()
    async for event in run_flow(request, catalog=CATALOG, providers=_NoProviders()):
        count += 1
        last = event
    elapsed = time.perf_counter() - begin
    if not isinstance(last, RunCompleted):
        raise RuntimeError(f"the run did not complete: {last}")
    return elapsed, count


def timed(function: Callable[[], Any]) -> tuple[float, Any]:
    begin = time.perf_counter()
    result = function()
    return time.perf_counter() - begin, result


async def measure(shape: str, n: int, repeats: int) -> list[object]:
    document = SHAPES[shape](n)
    parse_times, validate_times, with_validation, without_validation = [], [], [], []
    events = 0
    await run_once(parse_graph(document, DEFAULT_LIMITS))  # warm-up
    for rep in range(repeats):
        gc.collect()
        elapsed, graph = timed(lambda: parse_graph(document, DEFAULT_LIMITS))
        parse_times.append(elapsed)
        elapsed, plan = timed(functools.partial(validate_graph, graph, CATALOG, DEFAULT_LIMITS))
        validate_times.append(elapsed)
        # Alternate which run goes first, so drift on a noisy machine hits both alike.
        for which in ("graph", "plan") if rep % 2 == 0 else ("plan", "graph"):
            gc.collect()
            if which == "graph":
                elapsed, events = await run_once(graph)
                with_validation.append(elapsed)
            else:
                elapsed, events = await run_once(plan)
                without_validation.append(elapsed)
    edges = len(document["edges"])
    per_node = 1e6 / n
    return [
        shape,
        n,
        edges,
        events,
        median(parse_times) * per_node,
        median(validate_times) * per_node,
        median(with_validation) * per_node,
        median(without_validation) * per_node,
        median(with_validation) * 1000,
    ]


async def main(repeats: int) -> None:
    rows = []
    for n in (1000, 2000):
        for shape in SHAPES:
            rows.append(await measure(shape, n, repeats))
    print(
        table(
            [
                "shape",
                "nodes",
                "edges",
                "events",
                "parse us/node",
                "validate us/node",
                "run+validate us/node",
                "run only us/node",
                "run+validate ms",
            ],
            rows,
            title=f"Engine overhead: medians of {repeats} repetitions; {machine()}",
        )
    )
    thousand = [row for row in rows if row[1] == 1000]
    worst = max(float(row[6]) for row in thousand)  # type: ignore[arg-type]
    verdict = "met" if worst < 100 else "MISSED"
    aim = "met" if worst < 50 else "not met"
    print(
        f"\n1,000 nodes, validation included: worst shape {worst:.1f} us/node "
        f"(target < 100: {verdict}; aim < 50: {aim})"
    )


def profile(shape: str) -> None:
    graph = parse_graph(SHAPES[shape](1000), DEFAULT_LIMITS)
    asyncio.run(run_once(graph))  # warm-up
    profiler = cProfile.Profile()
    profiler.enable()
    asyncio.run(run_once(graph))
    profiler.disable()
    stats = pstats.Stats(profiler).strip_dirs().sort_stats("tottime")
    stats.print_stats(25)
    stats.sort_stats("cumulative").print_stats(25)


def cli() -> None:
    arguments = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    arguments.add_argument("--repeats", type=int, default=7)
    arguments.add_argument("--profile", choices=sorted(SHAPES), help="cProfile one 1,000-node run")
    options = arguments.parse_args()
    if options.profile:
        profile(options.profile)
    else:
        asyncio.run(main(options.repeats))


if __name__ == "__main__":
    cli()
