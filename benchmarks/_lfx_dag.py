"""Langflow's executor (the `lfx` package) on a DAG of sleeping stand-in components.

Run by `benchmarks.langflow_scheduling` with the interpreter of the separate environment it
creates (`benchmarks/.lfx-venv`, `lfx` installed): this file imports nothing of the project.

    python _lfx_dag.py DAG_JSON REPEATS

DAG_JSON: [[node id, latency ms, [parent ids]], ...] in topological order, the first node the
source the parentless ones hang off. Prints one JSON object: for each path, the wall seconds of
each repetition, and the same with every latency 0 (the executor's own cost).

Paths:
- run: `Graph.arun`, what Langflow's /run endpoint and `lfx run` use (through its execution
  coordinator: `Graph.process`, a wave of runnable vertices at a time, each wave gathered);
- playground: the playground's build path, as Langflow's `build_flow` drives it: each vertex
  built as its own task (`Graph.build_vertex`), and the vertices it makes runnable
  (`Graph.get_next_runnable_vertices`) started as soon as it is built.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
from typing import Any

from lfx.custom.custom_component.component import Component
from lfx.graph import Graph
from lfx.io import HandleInput, Output
from lfx.schema.data import Data

LATENCY_MS: dict[str, float] = {}


class Sleeper(Component):
    display_name = "Sleeper"
    inputs = [HandleInput(name="parents", display_name="Parents", input_types=["Data"], is_list=True, required=False)]
    outputs = [Output(display_name="Out", name="out", method="run")]

    async def run(self) -> Data:
        await asyncio.sleep(LATENCY_MS[self._id] / 1000)
        return Data(data={"id": self._id})


def build_graph(dag: list[list[Any]], zero: bool) -> Graph:
    components: dict[str, Sleeper] = {}
    for node_id, latency, parents in dag:
        LATENCY_MS[node_id] = 0.0 if zero else float(latency)
        component = Sleeper(_id=node_id)
        if parents:
            component.set(parents=[components[parent].run for parent in parents])
        components[node_id] = component
    graph = Graph()
    for node_id, component in components.items():
        graph.add_component(component, node_id)
    graph.prepare()
    return graph


async def run_path(graph: Graph) -> None:
    await graph.arun(inputs=[{}], outputs=[])


async def playground_path(graph: Graph) -> None:
    lock = asyncio.Lock()
    await graph.initialize_run()

    async def build(vertex_id: str) -> None:
        built = await graph.build_vertex(vertex_id=vertex_id, user_id=None, inputs_dict={}, fallback_to_env_vars=False)
        following = await graph.get_next_runnable_vertices(lock, vertex=built.vertex, cache=False)
        await asyncio.gather(*(build(next_id) for next_id in following))

    await asyncio.gather(*(build(vertex_id) for vertex_id in graph.sort_vertices()))


async def timed(dag: list[list[Any]], path: Any, zero: bool) -> float:
    graph = build_graph(dag, zero)
    begin = time.perf_counter()
    await path(graph)
    return time.perf_counter() - begin


async def main(dag: list[list[Any]], repeats: int) -> dict[str, list[float]]:
    paths = {"run": run_path, "playground": playground_path}
    found: dict[str, list[float]] = {}
    for path in paths.values():  # warm-up
        await timed(dag, path, zero=False)
    for rep in range(repeats):
        for name, path in paths.items() if rep % 2 == 0 else reversed(paths.items()):
            found.setdefault(name, []).append(await timed(dag, path, zero=False))
            found.setdefault(f"{name} zero", []).append(await timed(dag, path, zero=True))
    return found


if __name__ == "__main__":
    logging.disable(logging.CRITICAL)
    with open(sys.argv[1]) as file:
        nodes = json.load(file)
    print(json.dumps(asyncio.run(main(nodes, int(sys.argv[2])))))
