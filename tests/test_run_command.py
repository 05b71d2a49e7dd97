"""`main.py run FLOW.json`, run as a user runs it: in a terminal (a pseudo-terminal here, so the
live display draws as it would for a person) and with `--json` for scripts, against the fake
provider served by the test."""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import re
import signal
import struct
import subprocess
import sys
import termios
import threading
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from starlette.applications import Starlette

from tests.fakes.providers import FakeProviderState, SlowChunks, fake_provider_app
from tests.fakes.server import serve_app
from tests.waiting import wait_until

MAIN = Path(__file__).resolve().parent.parent / "main.py"
EXAMPLES = MAIN.parent / "examples"
STORY_FLOW = EXAMPLES / "story-flow.json"
# A provider stall far longer than any test waits: only a cancellation ends it in time.
STALL_SECONDS = 120
ANSI_CODES = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")


def command_environment(provider_url: str | None, **extra: str) -> dict[str, str]:
    environ = {
        key: value
        for key, value in os.environ.items()
        if key != "DATABASE_URL" and not key.endswith("_API_KEY") and not key.endswith("_BASE_URL")
    }
    if provider_url is not None:
        environ["MISTRAL_BASE_URL"] = provider_url
    return {**environ, **extra}


@asynccontextmanager
async def fake_provider(state: FakeProviderState) -> AsyncIterator[str]:
    app: Starlette = fake_provider_app(state)
    async with serve_app(app) as url:
        yield url


# --- in a terminal ----------------------------------------------------------------------------


class Terminal:
    """The command with a pseudo-terminal as its controlling terminal, 120 x 40."""

    def __init__(self, args: list[str], *, cwd: Path, env: Mapping[str, str]) -> None:
        self._master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        self.process = subprocess.Popen(
            [sys.executable, str(MAIN), *args],
            cwd=cwd,
            env={**env, "TERM": "xterm-256color"},
            stdin=slave,
            stdout=slave,
            stderr=slave,
            start_new_session=True,
            # The new session's controlling terminal: Ctrl-C typed there reaches the command.
            preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0),
        )
        os.close(slave)
        self._output = bytearray()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self._master, 65536)
            except OSError:  # EIO: the command has exited and closed the terminal
                return
            if not chunk:
                return
            self._output.extend(chunk)

    def screen_text(self) -> str:
        """Everything written so far, without the escape codes that draw it."""
        return ANSI_CODES.sub("", bytes(self._output).decode(errors="replace")).replace("\r", "")

    async def wait_for(self, pattern: str, timeout: float = 60) -> None:
        try:
            await wait_until(lambda: re.search(pattern, self.screen_text()), timeout=timeout)
        except AssertionError:
            raise AssertionError(f"{pattern!r} never shown; the screen:\n{self.screen_text()}") from None

    def type_ctrl_c(self) -> None:
        os.write(self._master, b"\x03")

    async def exit_status(self, timeout: float = 60) -> int:
        status = await asyncio.to_thread(self.process.wait, timeout)
        await asyncio.to_thread(self._reader.join, 5)
        os.close(self._master)
        return status


async def test_the_live_display_shows_progress_states_streamed_text_and_outputs(tmp_path: Path) -> None:
    # Slow enough chunks that the display draws each text node while it is streaming.
    state = FakeProviderState(persistent=SlowChunks(0.05, after_chunks=2))
    async with fake_provider(state) as url:
        terminal = Terminal(
            ["run", str(STORY_FLOW), "--provider", "mistral"],
            cwd=tmp_path,
            env=command_environment(url, MISTRAL_API_KEY="test-key"),
        )
        status = await terminal.exit_status()
    screen = terminal.screen_text()
    assert status == 0, screen
    assert screen.startswith("Running story-flow.json: 9 nodes, text provider mistral")
    assert re.search(r"━+\s+\d/9 nodes done", screen), screen
    assert re.search(r"━+\s+9/9 nodes done", screen), screen
    # A running node shows the end of what it has streamed so far.
    assert re.search(r"idea\s+initialPrompt\s+running\s+\d+\.\ds\s+(fake reply to|\.\.\.\S)", screen), screen
    assert re.search(r"polish\s+grammarFix\s+completed\s+\d+\.\ds", screen), screen
    ending = screen[screen.rindex("story-out (textOutput)") :]
    assert "fake reply to:" in ending
    assert re.search(r"run completed in \d+\.\ds", ending), screen


async def test_ctrl_c_cancels_the_run_and_exits_130(tmp_path: Path) -> None:
    state = FakeProviderState(persistent=SlowChunks(STALL_SECONDS, after_chunks=2))
    async with fake_provider(state) as url:
        terminal = Terminal(
            ["run", str(STORY_FLOW), "--provider", "mistral"],
            cwd=tmp_path,
            env=command_environment(url, MISTRAL_API_KEY="test-key"),
        )
        await terminal.wait_for(r"idea\s+initialPrompt\s+running\s+\d+\.\ds\s+fake")
        terminal.type_ctrl_c()
        status = await terminal.exit_status(timeout=STALL_SECONDS / 4)
    screen = terminal.screen_text()
    assert status == 130, screen
    assert re.search(r"idea\s+initialPrompt\s+cancelled", screen), screen
    assert re.search(r"enhance\s+promptEnhancer\s+cancelled", screen), screen
    assert "run cancelled" in screen
    assert "Traceback" not in screen and "KeyboardInterrupt" not in screen


# --- for scripts: --json ----------------------------------------------------------------------


async def run_json(
    tmp_path: Path, flow: Path, *args: str, env: Mapping[str, str]
) -> tuple[int, list[dict[str, Any]], str]:
    """Exit status, the events (every line parsed), stderr."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(MAIN),
        "run",
        str(flow),
        "--json",
        *args,
        cwd=tmp_path,
        env=dict(env),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, [json.loads(line) for line in stdout.decode().splitlines()], stderr.decode()


def assert_one_whole_log(events: list[dict[str, Any]]) -> None:
    assert [event["seq"] for event in events] == list(range(1, len(events) + 1))
    assert events[0]["type"] == "RunStarted"
    assert len({event["runId"] for event in events}) == 1


async def test_json_prints_every_event_of_a_completed_run_and_exits_0(tmp_path: Path) -> None:
    async with fake_provider(FakeProviderState()) as url:
        status, events, stderr = await run_json(
            tmp_path, STORY_FLOW, "--provider", "mistral", env=command_environment(url, MISTRAL_API_KEY="test-key")
        )
    assert status == 0, stderr
    assert_one_whole_log(events)
    assert events[-1]["type"] == "RunCompleted"
    assert events[-1]["outputs"]["story-out"]["text"].startswith("fake reply to:")
    types = {event["type"] for event in events}
    assert {"NodeStatusChanged", "NodeOutputDelta", "NodeCompleted"} <= types
    delta = next(event for event in events if event["type"] == "NodeOutputDelta")
    assert set(delta) == {"type", "runId", "seq", "at", "nodeId", "delta"}


def write_flow(tmp_path: Path, nodes: list[dict[str, Any]], edges: list[tuple[str, str, str]]) -> Path:
    """A flow file; edges as (source, target, port), the same port key on both ends."""
    path = tmp_path / "flow.json"
    graph = {
        "nodes": [{"position": {"x": 200 * i, "y": 0}, **node} for i, node in enumerate(nodes)],
        "edges": [
            {"id": f"{s}->{t}", "source": s, "sourceHandle": port, "target": t, "targetHandle": port}
            for s, t, port in edges
        ],
    }
    path.write_text(json.dumps(graph))
    return path


async def test_a_run_whose_node_fails_exits_1(tmp_path: Path) -> None:
    # initialPrompt calls its provider only when it has a persona or scene to weave in, so the
    # missing key is found when it runs: the node fails, and so does the run.
    flow = write_flow(
        tmp_path,
        [
            {"id": "mira", "type": "consistentCharacter", "data": {"name": "Mira"}},
            {"id": "idea", "type": "initialPrompt", "data": {"text": "A walk by the sea"}},
            {"id": "out", "type": "textOutput", "data": {}},
        ],
        [("mira", "idea", "persona"), ("idea", "out", "text")],
    )
    status, events, stderr = await run_json(tmp_path, flow, "--provider", "mistral", env=command_environment(None))
    assert status == 1, stderr
    assert_one_whole_log(events)
    failed = next(event for event in events if event["type"] == "NodeFailed")
    assert failed["nodeId"] == "idea" and "MISTRAL_API_KEY" in failed["error"]
    assert events[-1]["type"] == "RunFailed"


async def test_a_cycle_exits_2_before_anything_runs(tmp_path: Path) -> None:
    status, events, stderr = await run_json(
        tmp_path, EXAMPLES / "cycle-flow.json", "--provider", "mistral", env=command_environment(None)
    )
    assert status == 2
    assert events == []
    assert "cycle: a -> b -> c -> a" in stderr


async def test_an_unknown_provider_exits_2_before_anything_runs(tmp_path: Path) -> None:
    state = FakeProviderState()
    async with fake_provider(state) as url:
        status, events, stderr = await run_json(
            tmp_path, STORY_FLOW, "--provider", "nope", env=command_environment(url, MISTRAL_API_KEY="test-key")
        )
    assert status == 2
    assert events == [] and state.requests == []
    assert "--provider" in stderr and "'nope'" in stderr and "mistral" in stderr


async def test_a_missing_key_for_a_provider_the_flow_needs_exits_2_before_anything_runs(tmp_path: Path) -> None:
    state = FakeProviderState()
    async with fake_provider(state) as url:
        status, events, stderr = await run_json(
            tmp_path, STORY_FLOW, "--provider", "mistral", env=command_environment(url)
        )
    assert status == 2
    assert events == [] and state.requests == []
    assert "MISTRAL_API_KEY is not set" in stderr


async def test_a_flow_that_needs_a_provider_and_names_none_exits_2(tmp_path: Path) -> None:
    status, events, stderr = await run_json(tmp_path, STORY_FLOW, env=command_environment(None))
    assert status == 2
    assert events == []
    assert "no provider chosen" in stderr and "--provider" in stderr


async def test_an_unreadable_or_malformed_file_exits_2(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text("{not json")
    missing = await run_json(tmp_path, tmp_path / "no-such-flow.json", env=command_environment(None))
    malformed = await run_json(tmp_path, tmp_path / "bad.json", env=command_environment(None))
    assert missing[0] == 2 and "no-such-flow.json" in missing[2]
    assert malformed[0] == 2 and "bad.json" in malformed[2]


async def test_sigint_cancels_a_json_run_with_a_cancelled_log_and_exits_130(tmp_path: Path) -> None:
    state = FakeProviderState(persistent=SlowChunks(STALL_SECONDS, after_chunks=2))
    async with fake_provider(state) as url:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            str(MAIN),
            "run",
            str(STORY_FLOW),
            "--provider",
            "mistral",
            "--json",
            cwd=tmp_path,
            env=command_environment(url, MISTRAL_API_KEY="test-key"),
            stdout=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
        assert process.stdout is not None
        lines: list[dict[str, Any]] = []
        while not lines or lines[-1]["type"] != "NodeOutputDelta":  # a provider call is streaming
            lines.append(json.loads(await asyncio.wait_for(process.stdout.readline(), timeout=60)))
        os.killpg(process.pid, signal.SIGINT)
        rest, _ = await asyncio.wait_for(process.communicate(), timeout=STALL_SECONDS / 4)
    events = lines + [json.loads(line) for line in rest.decode().splitlines()]
    assert process.returncode == 130
    assert_one_whole_log(events)
    assert events[-1]["type"] == "RunCancelled"
    cancelled = {e["nodeId"] for e in events if e["type"] == "NodeStatusChanged" and e["status"] == "cancelled"}
    assert {"idea", "enhance", "story"} <= cancelled


def test_run_shows_its_first_line_without_importing_the_web_stack(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-X", "importtime", str(MAIN), "run", str(EXAMPLES / "cycle-flow.json")],
        cwd=tmp_path,
        env=command_environment(None),
        capture_output=True,
        text=True,
        timeout=60,
    )
    imported = {line.split("|")[-1].strip() for line in result.stderr.splitlines() if line.startswith("import time")}
    assert result.returncode == 2
    assert {"strawberry", "sqlalchemy", "starlette", "uvicorn", "alembic"}.isdisjoint(imported)


async def test_an_image_flow_writes_its_images_into_the_media_directory(tmp_path: Path) -> None:
    async with fake_provider(FakeProviderState()) as url:
        status, events, stderr = await run_json(
            tmp_path,
            EXAMPLES / "image-flow.json",
            "--provider",
            "mistral",
            env=command_environment(
                url, MISTRAL_API_KEY="test-key", FIREWORKS_API_KEY="test-key", FIREWORKS_BASE_URL=url
            ),
        )
    assert status == 0, stderr
    (image,) = events[-1]["outputs"]["gallery"]["images"]
    assert Path(image["url"]).parent == tmp_path / "media"
    assert Path(image["url"]).is_file()


async def test_a_reader_that_stops_reading_ends_the_run_without_a_traceback(tmp_path: Path) -> None:
    # `main.py run --json | head -1`: the pipe closes under the command.
    state = FakeProviderState(persistent=SlowChunks(0.05))
    async with fake_provider(state) as url:
        # `with`: the pipes are closed when it ends, whatever happens before.
        with subprocess.Popen(
            [sys.executable, str(MAIN), "run", str(STORY_FLOW), "--provider", "mistral", "--json"],
            cwd=tmp_path,
            env=command_environment(url, MISTRAL_API_KEY="test-key"),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        ) as process:
            assert process.stdout is not None and process.stderr is not None
            first = json.loads(await asyncio.to_thread(process.stdout.readline))
            process.stdout.close()
            stderr = await asyncio.to_thread(process.stderr.read)
            status = await asyncio.to_thread(process.wait, 60)
    assert first["type"] == "RunStarted"
    assert status == 141
    assert b"Traceback" not in stderr
