"""Node.js scripts the tests run (tests/js): their packages, a browser for them, running one.

The packages are installed as tests/js/package-lock.json pins them; the browser is Debian's
`chromium`, installed with apt-get where missing (the tests that need it skip, saying why, only
where it cannot be installed).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

JS_DIR = Path(__file__).resolve().parent / "js"
CHROMIUM = Path("/usr/bin/chromium")


def install_node_packages() -> None:
    """tests/js/node_modules as tests/js/package-lock.json pins it (installed when it differs)."""
    npm = shutil.which("npm")
    assert npm and shutil.which("node"), "these tests need Node.js and npm on the PATH"
    if not _installed_as_locked():
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error"],
            cwd=JS_DIR,
            check=True,
            timeout=300,
        )


def _installed_as_locked() -> bool:
    installed = JS_DIR / "node_modules" / ".package-lock.json"
    if not installed.is_file():
        return False
    locked = json.loads((JS_DIR / "package-lock.json").read_text())["packages"]
    locked.pop("", None)
    return bool(json.loads(installed.read_text())["packages"] == locked)


def install_chromium() -> str | None:
    """Debian's chromium, installed if missing; None with the reason when it cannot be."""
    if CHROMIUM.exists():
        return None
    apt = shutil.which("apt-get")
    if apt is None:
        return f"{CHROMIUM} is missing and there is no apt-get to install it (Debian's chromium package)"
    if os.geteuid() != 0:
        return f"{CHROMIUM} is missing; install it as root: apt-get update && apt-get install -y chromium"
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    # Another apt-get may hold the lock for a while: wait for it rather than fail.
    lock_wait = ["-o", "DPkg::Lock::Timeout=600"]
    for command in ([apt, *lock_wait, "update"], [apt, *lock_wait, "install", "-y", "chromium"]):
        done = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=1200)
        if done.returncode != 0:
            return f"could not install chromium with apt-get: {done.stderr.strip()[-500:]}"
    return None if CHROMIUM.exists() else f"apt-get installed chromium but {CHROMIUM} is missing"


async def run_node_script(script: str, request: dict[str, Any], *, timeout: float = 120) -> dict[str, Any]:
    """Runs tests/js/`script` with `request` as JSON on stdin; returns what it prints as JSON."""
    process = await asyncio.create_subprocess_exec(
        "node", str(JS_DIR / script), cwd=JS_DIR, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(json.dumps(request).encode()), timeout=timeout)
    assert process.returncode == 0, stderr.decode()
    answer: dict[str, Any] = json.loads(stdout)
    return answer
