"""Small helpers shared by the benchmarks: tables, medians, memory, servers in subprocesses."""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (fraction in 0..1)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, int(round(fraction * len(ordered) + 0.5)) - 1))
    return ordered[index]


def table(headers: Sequence[str], rows: Sequence[Sequence[object]], title: str | None = None) -> str:
    cells = [[_cell(value) for value in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    lines = []
    if title:
        lines.append(title)
    lines.append("  ".join(h.rjust(w) for h, w in zip(headers, widths, strict=True)))
    lines.append("  ".join("-" * w for w in widths))
    for row in cells:
        lines.append("  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)))
    return "\n".join(lines)


def _cell(value: object) -> str:
    if isinstance(value, float):
        if value != value:  # nan
            return "-"
        if abs(value) >= 100:
            return f"{value:,.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        return f"{value:.3f}"
    return str(value)


def status_kib(pid: int | str = "self") -> dict[str, int]:
    """VmRSS / VmHWM / VmPeak ... of a process from /proc/<pid>/status, in KiB."""
    found: dict[str, int] = {}
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.startswith("Vm") and value.strip().endswith("kB"):
                found[key] = int(value.split()[0])
    return found


def cpu_seconds(pid: int | str = "self") -> float:
    """User + system CPU time of a process so far (from /proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def raise_fd_limit(wanted: int) -> tuple[int, int]:
    """Raise the soft RLIMIT_NOFILE towards `wanted` (capped by the hard limit); returns it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the process on port {port} exited with {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on port {port} after {timeout}s")


@contextlib.contextmanager
def subprocess_server(
    args: Sequence[str],
    *,
    port: int,
    cwd: Path | str | None = None,
    env: dict[str, str] | None = None,
    inherit_env: bool = True,
    wrapper: Sequence[str] = (),
) -> Iterator[subprocess.Popen[bytes]]:
    """Start `python args...` (this interpreter, so the same packages) and wait for `port`.

    `env` adds to this process's environment, or replaces it when `inherit_env` is False.
    `wrapper` goes before the interpreter (a profiler, say).
    """
    process = subprocess.Popen(
        [*wrapper, sys.executable, *args],
        cwd=cwd,
        env={**os.environ, **(env or {})} if inherit_env else dict(env or {}),
        stdout=subprocess.DEVNULL,
        stderr=None,  # start-up failures and server errors stay visible
    )
    try:
        wait_for_port(port, process)
        yield process
    finally:
        if process.poll() is None:
            # Under a wrapper, stop the server itself; the wrapper ends when it does.
            os.kill(child_pid(process.pid) if wrapper else process.pid, signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def machine() -> str:
    return f"{os.cpu_count()} cores (shared), Python {sys.version.split()[0]}"


def py_spy_wrapper(output: Path | str) -> list[str]:
    """Run a command under py-spy (fetched by uvx; not a project dependency), sampling only the
    thread holding the GIL, so the profile shows where the CPU goes; raw collapsed stacks."""
    return ["uvx", "py-spy", "record", "--gil", "--nolineno", "--format", "raw", "--rate", "250",
            "--output", str(output), "--"]


def child_pid(pid: int) -> int:
    """The first child of a process (the server under py-spy), else the process itself."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            children = (task / "children").read_text().split()
            if children:
                return child_pid(int(children[0]))
    return pid


def summarise_collapsed(
    path: Path | str,
    *,
    within: str = "Runner.run (asyncio/runners.py)",
    categories: Sequence[tuple[str, str]] = (),
    top: int = 30,
) -> str:
    """Shares of py-spy's raw (collapsed stack) samples, counting only stacks through `within`
    (by default the running event loop: start-up imports and migrations are left out).

    `categories` are (frame substring, label): a sample goes to the category of the frame
    nearest its leaf that matches one, else to "other"."""
    own: dict[str, int] = {}
    inclusive: dict[str, int] = {}
    packages: dict[str, int] = {}
    grouped: dict[str, int] = {}
    total = 0
    for line in Path(path).read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        frames = stack.split(";")
        if not stack or not any(within in frame for frame in frames):
            continue
        count = int(count_text)
        total += count
        own[frames[-1]] = own.get(frames[-1], 0) + count
        packages[_package(frames[-1])] = packages.get(_package(frames[-1]), 0) + count
        for frame in set(frames):
            inclusive[frame] = inclusive.get(frame, 0) + count
        label = next(
            (label for frame in reversed(frames) for marker, label in categories if marker in frame),
            "other",
        )
        grouped[label] = grouped.get(label, 0) + count
    if not total:
        return "no samples"

    def share(items: dict[str, int], limit: int) -> list[str]:
        ranked = sorted(items.items(), key=lambda item: -item[1])[:limit]
        return [f"  {100 * count / total:5.1f}%  {name}" for name, count in ranked]

    lines = [f"{total} samples with the GIL held, in the event loop"]
    if categories:
        lines += ["", "by activity (the frame nearest the leaf decides):", *share(grouped, len(grouped))]
    lines += ["", "self, by package:", *share(packages, 15)]
    lines += ["", "self, by function:", *share(own, top)]
    lines += ["", "inclusive, by function:", *share(inclusive, top * 2)]
    return "\n".join(lines)


def _package(frame: str) -> str:
    location = frame.rpartition("(")[2].rstrip(")")
    if "site-packages/" in location:
        return location.split("site-packages/", 1)[1].split("/", 1)[0].removesuffix(".py")
    if location.startswith(str(REPO)):
        parts = Path(location).relative_to(REPO).parts
        return "/".join(parts[:2]) if parts[0] == "services" and len(parts) > 2 else parts[0]
    if "/lib/python3" in location:
        return "stdlib:" + location.split("/lib/python3", 1)[1].split("/", 2)[1].removesuffix(".py")
    return location
