"""Scheduling against Langflow's executor on the same random 60-node DAG, sleeping stand-in
nodes, in-process for each (target: ours wall / critical path <= 1.03).

    uv run python -m benchmarks.langflow_scheduling [--repeats 5] [--dag PATH]

The DAG: `benchmarks/data/dag60.json` (60 nodes, 111 edges, critical path 429 ms; see its
README), plus the source node (0 ms) its parentless nodes hang off, for both executors.

- Langflow: the `lfx` package (1.13.0) in an environment of its own that this benchmark creates
  on first use, `benchmarks/.lfx-venv` (git-ignored; `uv venv` + `uv pip install lfx==1.13.0`,
  which needs PyPI), driven by `benchmarks/_lfx_dag.py` in a subprocess with that
  environment's interpreter: every node a custom Component sleeping its latency; its /run path
  (`Graph.arun`) and its playground build path (each vertex a task, successors started as
  soon as they are runnable).
- ours: `run_flow` in this process, every node a `promptEnhancer` whose executor sleeps its
  latency (as `benchmarks.scheduling`), validation included.

Per executor: wall time / critical path (median of `--repeats`), and the engine's own cost per
node: the wall time of the same DAG with every latency 0, divided by its 61 nodes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from benchmarks._common import REPO, machine, median, table
from benchmarks.scheduling import Dag, run_ours
from services.execution.graph import parse_graph
from services.execution.validation import DEFAULT_LIMITS

DAG60 = REPO / "benchmarks" / "data" / "dag60.json"
LFX_VENV = REPO / "benchmarks" / ".lfx-venv"
LFX_VERSION = "1.13.0"
SOURCE = "src"


def load_dag(path: Path) -> tuple[list[list[Any]], Dag]:
    """The DAG as the lfx script reads it (source node first) and as ours runs it."""
    rows = json.loads(path.read_text())
    nodes = [[SOURCE, 0, []]] + [[node_id, latency, parents or [SOURCE]] for node_id, latency, parents in rows]
    index = {node[0]: i for i, node in enumerate(nodes)}
    dag = Dag(
        name=path.stem,
        latencies=[float(latency) / 1000 for _, latency, _ in nodes],
        parents=[[index[p] for p in parents] for _, _, parents in nodes],
    )
    return nodes, dag


def lfx_python() -> Path:
    """The separate environment's interpreter, created (with lfx installed) if missing."""
    python = LFX_VENV / "bin" / "python"
    if not python.exists():
        subprocess.run(["uv", "venv", "--quiet", "--python", "3.11", str(LFX_VENV)], check=True)
    probe = subprocess.run([str(python), "-c", "import lfx"], capture_output=True)
    if probe.returncode != 0:
        # --no-config: the project's own pins (pyproject's constraint-dependencies) must not apply.
        subprocess.run(
            ["uv", "pip", "install", "--quiet", "--no-config", "--python", str(python), f"lfx=={LFX_VERSION}"],
            check=True, cwd=tempfile.gettempdir(),
        )
    return python


def run_langflow(nodes: list[list[Any]], repeats: int) -> dict[str, list[float]]:
    with tempfile.NamedTemporaryFile("w", suffix=".json") as file:
        json.dump(nodes, file)
        file.flush()
        output = subprocess.run(
            [str(lfx_python()), str(REPO / "benchmarks" / "_lfx_dag.py"), file.name, str(repeats)],
            capture_output=True, text=True, check=True, timeout=600,
        ).stdout
    return json.loads(output.strip().splitlines()[-1])


async def run_ours_repeatedly(dag: Dag, repeats: int) -> dict[str, list[float]]:
    graph = parse_graph(dag.graph_json(), DEFAULT_LIMITS)
    zero = Dag(dag.name, [0.0] * dag.size, dag.parents)
    await run_ours(dag, graph)  # warm-up
    found: dict[str, list[float]] = {"ours": [], "ours zero": []}
    for _ in range(repeats):
        found["ours"].append((await run_ours(dag, graph))[0])
        found["ours zero"].append((await run_ours(zero, graph))[0])
    return found


def main(dag_path: Path, repeats: int) -> None:
    nodes, dag = load_dag(dag_path)
    critical = dag.critical_path()
    try:
        theirs = run_langflow(nodes, repeats)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as error:
        stderr = getattr(error, "stderr", "") or ""
        print(f"Langflow's executor could not be run: {error!r}\n{stderr[-2000:]}")
        theirs = {}
    ours = asyncio.run(run_ours_repeatedly(dag, repeats))
    rows = []
    for label, key in (("ours", "ours"), ("Langflow /run (Graph.arun)", "run"), ("Langflow playground build", "playground")):
        figures = ours if key == "ours" else theirs
        if key not in figures:
            continue
        wall = median(figures[key])
        per_node = median(figures[f"{key} zero"]) / dag.size
        target = "<= 1.03: " + ("met" if wall / critical <= 1.03 else "NOT met") if key == "ours" else "-"
        rows.append([label, critical * 1000, wall * 1000, wall / critical, target, per_node * 1e6])
    print(
        table(
            ["executor", "critical path ms", "wall ms", "wall/crit", "target", "engine us/node (0 ms nodes)"],
            rows,
            title=(
                f"{dag_path.name}: {dag.size} nodes (source included), {dag.edge_count} edges; "
                f"medians of {repeats}; {machine()}"
            ),
        )
    )


def cli() -> None:
    arguments = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    arguments.add_argument("--repeats", type=int, default=5)
    arguments.add_argument("--dag", type=Path, default=DAG60)
    options = arguments.parse_args()
    main(options.dag, options.repeats)


if __name__ == "__main__":
    cli()
