"""Node.js scripts the tests run (tests/js): their packages, a browser for them, running one.

The packages are installed as tests/js/package-lock.json pins them (into tests/js/node_modules,
when it differs). The browser is Debian's `chromium` package; no test installs it (`.ci/run`
does): the tests that need Node.js or the browser skip, naming what is missing.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

JS_DIR = Path(__file__).resolve().parent / "js"
CHROMIUM = Path("/usr/bin/chromium")


def node_packages_missing() -> str | None:
    """None once tests/js/node_modules is as locked (installed here if need be); else what is missing."""
    npm = shutil.which("npm")
    missing = [name for name, path in (("node", shutil.which("node")), ("npm", npm)) if path is None]
    if npm is None or missing:
        return f"{' and '.join(missing)} not on the PATH (Node.js 20+ and npm run tests/js)"
    if not _installed_as_locked():
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error"],
            cwd=JS_DIR,
            check=True,
            timeout=300,
        )
    return None


def _installed_as_locked() -> bool:
    installed = JS_DIR / "node_modules" / ".package-lock.json"
    if not installed.is_file():
        return False
    locked = json.loads((JS_DIR / "package-lock.json").read_text())["packages"]
    locked.pop("", None)
    return bool(json.loads(installed.read_text())["packages"] == locked)


def chromium_missing() -> str | None:
    """None when Debian's chromium is installed; else what is missing and how to get it."""
    if CHROMIUM.exists():
        return None
    return f"{CHROMIUM} is missing (Debian's chromium package: apt-get install chromium, as .ci/run does)"


async def run_node_script(script: str, request: dict[str, Any], *, timeout: float = 120) -> dict[str, Any]:
    """Runs tests/js/`script` with `request` as JSON on stdin; returns what it prints as JSON."""
    process = await asyncio.create_subprocess_exec(
        "node", str(JS_DIR / script), cwd=JS_DIR, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(json.dumps(request).encode()), timeout=timeout)
    assert process.returncode == 0, stderr.decode()
    answer: dict[str, Any] = json.loads(stdout)
    return answer
