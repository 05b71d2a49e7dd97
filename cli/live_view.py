"""What `main.py run` shows while it follows a run: a live view for a person, JSON lines for scripts.

The live view (rich) redraws ten times a second from `RunView`, the run's state as its events
have told it: a progress bar of nodes done, each node's state and duration, the streamed text of
running nodes; the outputs of the flow's end nodes follow once the run is over.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol, TextIO

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.rule import Rule
from rich.table import Table
from rich.text import Text

from cli.run_command import FlowFile
from services.execution import events as run_events
from services.execution.events import NodeStatus, RunEvent

REFRESHES_PER_SECOND = 10
# States after which a node changes no more.
DONE = frozenset(
    {NodeStatus.COMPLETED, NodeStatus.CACHED, NodeStatus.FAILED, NodeStatus.SKIPPED, NodeStatus.CANCELLED}
)
STATE_STYLES = {
    NodeStatus.PENDING: "dim",
    NodeStatus.RUNNING: "bold yellow",
    NodeStatus.COMPLETED: "green",
    NodeStatus.CACHED: "cyan",
    NodeStatus.FAILED: "bold red",
    NodeStatus.SKIPPED: "dim",
    NodeStatus.CANCELLED: "magenta",
}
# Lines the view keeps for its header and the table's; the rest of the terminal holds node rows.
VIEW_CHROME_LINES = 6
NODE_WIDTH = 20
TYPE_WIDTH = 18
MIN_ROWS = 5


class RunDisplay(Protocol):
    def show(self, event: RunEvent) -> None: ...


@contextlib.asynccontextmanager
async def open_display(flow: FlowFile, *, json_lines: bool) -> AsyncIterator[RunDisplay]:
    if json_lines:
        yield JsonLines(sys.stdout)
        return
    view = RunView(flow)
    console = Console(highlight=False)
    console.print(Text.assemble(("Running ", "bold"), view.heading()))
    live = Live(console=console, get_renderable=lambda: render_view(view, console), auto_refresh=False)
    with live:
        ticker = asyncio.create_task(_redraw(live))
        try:
            yield view
        finally:
            ticker.cancel()
    if not console.is_terminal:
        console.line()  # rich ends the last drawing with a newline on terminals only
    print_ending(view, console)


async def _redraw(live: Live) -> None:
    # From the event loop rather than rich's own thread: the view is only read between events.
    while True:
        live.refresh()
        await asyncio.sleep(1 / REFRESHES_PER_SECOND)


class JsonLines:
    """One line per event: its JSON form (as stored) plus `type`, the event's GraphQL type name."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def show(self, event: RunEvent) -> None:
        line = json.dumps({"type": type(event).__name__, **event.to_json()}, ensure_ascii=False)
        self._stream.write(line + "\n")
        self._stream.flush()


@dataclass
class NodeRow:
    node_id: str
    node_type: str
    status: NodeStatus = NodeStatus.PENDING
    started: datetime | None = None
    ended: datetime | None = None
    text: str = ""  # streamed so far
    output: dict[str, Any] | None = None
    error: str | None = None

    def seconds(self, now: datetime) -> float | None:
        if self.started is None:
            return None
        return ((self.ended or now) - self.started).total_seconds()


@dataclass
class RunView:
    """The run's state, from its events."""

    flow: FlowFile
    rows: dict[str, NodeRow] = field(init=False)
    started: datetime | None = None
    final: RunEvent | None = None

    def __post_init__(self) -> None:
        self.rows = {
            node_id: NodeRow(node_id, planned.node.type) for node_id, planned in self.flow.plan.nodes.items()
        }

    def heading(self) -> str:
        provider = self.flow.provider_id or "none (nodes choose their own)"
        return f"{self.flow.path.name}: {len(self.rows)} nodes, text provider {provider}"

    def done(self) -> int:
        return sum(1 for row in self.rows.values() if row.status in DONE)

    def end_nodes(self) -> list[NodeRow]:
        """The nodes nothing reads from: the flow's results."""
        return [self.rows[node_id] for node_id, planned in self.flow.plan.nodes.items() if not planned.downstream]

    def show(self, event: RunEvent) -> None:
        match event:
            case run_events.RunStarted(at=at):
                self.started = at
            case run_events.NodeStatusChanged(node_id=node_id, status=status, at=at):
                self._status(self.rows[node_id], status, at)
            case run_events.NodeOutputDelta(node_id=node_id, delta=delta):
                self.rows[node_id].text += delta
            case run_events.NodeCompleted(node_id=node_id, output=output, at=at):
                row = self.rows[node_id]
                row.output, row.ended = output, at
                if row.status is not NodeStatus.CACHED:
                    row.status = NodeStatus.COMPLETED
            case run_events.NodeFailed(node_id=node_id, error=error, at=at):
                row = self.rows[node_id]
                row.status, row.error, row.ended = NodeStatus.FAILED, error, at
            case run_events.RunCompleted() | run_events.RunFailed() | run_events.RunCancelled():
                self.final = event

    @staticmethod
    def _status(row: NodeRow, status: NodeStatus, at: datetime) -> None:
        row.status = status
        if status in (NodeStatus.RUNNING, NodeStatus.CACHED):
            row.started = at
        elif status is NodeStatus.CANCELLED and row.started is not None:
            row.ended = at


# --- drawing ----------------------------------------------------------------------------------


def render_view(view: RunView, console: Console) -> RenderableType:
    now = datetime.now(UTC)
    total, done = len(view.rows), view.done()
    elapsed = (now - view.started).total_seconds() if view.started and view.final is None else None
    progress = Table.grid(padding=(0, 1))
    progress.add_row(
        ProgressBar(total=max(total, 1), completed=done, width=40),
        Text(f"{done}/{total} nodes done"),
        Text(_duration(elapsed) if elapsed is not None else "", style="dim"),
    )
    return Group(progress, _node_table(view, console, now))


def _node_table(view: RunView, console: Console, now: datetime) -> Table:
    # expand: the fixed columns take what they need (up to their maximum), the text the rest.
    table = Table(box=None, padding=(0, 1), show_edge=False, header_style="bold", expand=True)
    table.add_column("node", no_wrap=True, max_width=NODE_WIDTH, overflow="ellipsis")
    table.add_column("type", no_wrap=True, max_width=TYPE_WIDTH, overflow="ellipsis", style="dim")
    table.add_column("state", no_wrap=True, min_width=9)
    table.add_column("time", no_wrap=True, min_width=6, justify="right")
    table.add_column("text", no_wrap=True, overflow="ellipsis", ratio=1, min_width=10)
    room = max(MIN_ROWS, console.height - VIEW_CHROME_LINES)
    rows, hidden = _visible_rows(list(view.rows.values()), room)
    text_width = max(10, console.width - NODE_WIDTH - TYPE_WIDTH - 24)
    for row in rows:
        seconds = row.seconds(now)
        table.add_row(
            Text(row.node_id),
            row.node_type,
            Text(row.status.value, style=STATE_STYLES[row.status]),
            _duration(seconds) if seconds is not None else "",
            _row_text(row, text_width),
        )
    if hidden:
        table.add_row(Text(f"... {hidden} more", style="dim"))
    return table


def _visible_rows(rows: list[NodeRow], room: int) -> tuple[list[NodeRow], int]:
    """All rows when they fit; else the running and failed ones first, then the latest to
    change, shown in the flow's order."""
    if len(rows) <= room:
        return rows, 0
    keep = room - 1  # one line says how many are left out
    position = {id(row): index for index, row in enumerate(rows)}
    ranked = sorted(rows, key=_interest)[:keep]
    return sorted(ranked, key=lambda row: position[id(row)]), len(rows) - keep


def _interest(row: NodeRow) -> tuple[int, float]:
    rank = {NodeStatus.RUNNING: 0, NodeStatus.FAILED: 1}.get(row.status, 2 if row.status in DONE else 3)
    changed = row.ended or row.started
    return rank, -changed.timestamp() if changed else 0.0


def _row_text(row: NodeRow, width: int) -> Text:
    if row.error is not None:
        return Text(row.error, style="red")
    if row.status is NodeStatus.RUNNING:
        return Text(_tail(row.text, width), style="italic")
    if row.output is not None:
        return Text(_preview(row.output), style="dim")
    return Text("")


def _tail(text: str, width: int) -> str:
    """The end of the streamed text, on one line: what the model is writing now."""
    flat = " ".join(text.split())
    return flat if len(flat) <= width else "..." + flat[-(width - 3) :]


def _preview(output: dict[str, Any]) -> str:
    text = output.get("text")
    if isinstance(text, str) and len(output) == 1:
        return " ".join(text.split())
    return json.dumps(output, ensure_ascii=False)


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes}m{rest:02d}s"


# --- the ending -------------------------------------------------------------------------------


def print_ending(view: RunView, console: Console) -> None:
    """The end nodes' outputs in full, then how the run ended."""
    for row in view.end_nodes():
        if row.output is None:
            continue
        console.print(Rule(Text(f"{row.node_id} ({row.node_type})"), align="left"))
        text = row.output.get("text")
        if isinstance(text, str) and len(row.output) == 1:
            console.print(Text(text))
        else:
            console.print_json(data=row.output)
    console.print(_outcome(view))


def _outcome(view: RunView) -> Text:
    final = view.final
    seconds = (final.at - view.started).total_seconds() if final and view.started else 0.0
    if isinstance(final, run_events.RunCompleted):
        return Text.assemble(("run completed", "bold green"), f" in {_duration(seconds)}")
    if isinstance(final, run_events.RunCancelled):
        return Text.assemble(("run cancelled", "bold magenta"), f" after {_duration(seconds)}")
    if isinstance(final, run_events.RunFailed):
        return Text.assemble(("run failed: ", "bold red"), final.error)
    return Text("the run ended without a final event", style="bold red")
