"""The real server as a child process (`main.py serve`, or `main.py worker`), for tests that
kill it, freeze it or run several."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import httpx

from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT_SECONDS = 60


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerProcess:
    """`python main.py serve` in `workdir`, with this environment plus `environ` (without a
    DATABASE_URL the test runner may have: the embedded default unless `environ` gives one)."""

    def __init__(
        self,
        environ: Mapping[str, str],
        workdir: Path,
        *,
        python: str = sys.executable,
        log_level: str = "warning",
        options: Sequence[str] = (),
        name: str = "server",
    ) -> None:
        inherited = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
        self.environ = {**inherited, **environ}
        self.workdir = workdir
        self.python = python
        self.log_level = log_level
        self.options = tuple(options)  # more `serve` options (--no-worker)
        # What the server prints and logs, for tests that read it.
        self.stdout_file = workdir / f"{name}.out"
        self.stderr_file = workdir / f"{name}.err"
        self.port = free_port()
        self.process: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def command(self) -> list[str]:
        return ["serve", "--port", str(self.port), "--log-level", self.log_level, *self.options]

    async def start(self) -> None:
        # The child keeps its own copies of the files' descriptors.
        with self.stdout_file.open("ab") as stdout, self.stderr_file.open("ab") as stderr:
            self.process = await asyncio.create_subprocess_exec(
                self.python,
                str(ROOT / "main.py"),
                *self.command(),
                cwd=self.workdir,
                env=self.environ,
                stdout=stdout,
                stderr=stderr,
            )
        await self._until_answering()

    def log(self) -> str:
        return self.stderr_file.read_text(errors="replace")

    def freeze(self) -> None:
        """SIGSTOP: the process stops without knowing (a stalled VM, a long GC pause)."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as when the machine or the OOM killer stops it."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        """SIGTERM: what an orchestrator sends to stop it gently."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.kill()
        if self.process is not None:
            await self.process.wait()

    async def _until_answering(self) -> None:
        assert self.process is not None
        process = self.process
        async with httpx.AsyncClient(base_url=self.url) as http:

            async def answering() -> bool:
                if process.returncode is not None:
                    raise RuntimeError(f"the server exited with {process.returncode}")
                try:
                    response = await http.post("/graphql", json={"query": "{ health { status } }"})
                except httpx.TransportError:
                    return False
                return response.status_code == 200

            await wait_until(answering, timeout=START_TIMEOUT_SECONDS, interval=0.1, what="the server to answer")


class WorkerProcess(ServerProcess):
    """`python main.py worker`: executes queued runs, serves no HTTP (distributed mode)."""

    READY_LINE = "worker: executing queued runs"

    def command(self) -> list[str]:
        return ["worker"]

    async def _until_answering(self) -> None:
        process = self.process
        assert process is not None

        def ready() -> bool:
            if process.returncode is not None:
                raise RuntimeError(f"the worker exited with {process.returncode}: {self.log()[-2000:]}")
            return self.stdout_file.is_file() and self.READY_LINE in self.stdout_file.read_text(errors="replace")

        await wait_until(ready, timeout=START_TIMEOUT_SECONDS, interval=0.1, what="the worker to start")


@asynccontextmanager
async def server_process(
    environ: Mapping[str, str], workdir: Path, *, python: str = sys.executable, log_level: str = "warning"
) -> AsyncIterator[ServerProcess]:
    server = ServerProcess(environ, workdir, python=python, log_level=log_level)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
