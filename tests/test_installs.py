"""Installs: every package pinned exactly in pyproject.toml, and `serve` without the dev tools."""

from __future__ import annotations

import os
import shutil
import subprocess
import tomllib
from collections.abc import AsyncIterator, Iterable
from importlib import metadata
from pathlib import Path

import httpx
import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.server_process import server_process

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
REFRESH = 'docs/development.md, "Pinned versions": regenerate the pins'


def pins() -> dict[str, str]:
    """constraint-dependencies as name -> exact version."""
    pinned: dict[str, str] = {}
    for line in PYPROJECT["tool"]["uv"]["constraint-dependencies"]:
        requirement = Requirement(line)
        (specifier,) = requirement.specifier
        assert specifier.operator == "==", f"{line}: not an exact pin"
        pinned[canonicalize_name(requirement.name)] = specifier.version
    return pinned


def installed_closure(requirements: Iterable[str]) -> dict[str, str]:
    """Every distribution these requirements bring in here, with its installed version."""
    found: dict[str, str] = {}
    pending = [(Requirement(line), "") for line in requirements]
    while pending:
        requirement, parent_extra = pending.pop()
        if requirement.marker and not requirement.marker.evaluate({"extra": parent_extra}):
            continue
        name = canonicalize_name(requirement.name)
        distribution = metadata.distribution(name)
        found[name] = distribution.version
        for extra in ["", *requirement.extras]:
            pending += [(Requirement(line), extra) for line in distribution.requires or []]
    return found


def test_every_package_installed_is_pinned_at_its_version() -> None:
    declared = PYPROJECT["project"]["dependencies"] + PYPROJECT["dependency-groups"]["dev"]
    pinned = pins()

    unpinned = {name: version for name, version in installed_closure(declared).items() if pinned.get(name) != version}

    assert not unpinned, f"not pinned in pyproject.toml at these versions: {unpinned} ({REFRESH})"


def uv() -> str:
    """The uv running this suite (`uv run` says where), else the one on the PATH."""
    found = os.environ.get("UV") or shutil.which("uv")
    assert found, "this test needs uv: run the suite with `uv run pytest`"
    return found


@pytest.fixture
def environment_without_dev_tools(tmp_path: Path) -> Path:
    """A fresh environment of the project without the dev group, from uv's cache; its python."""
    environment = tmp_path / "venv"
    subprocess.run(
        [uv(), "sync", "--no-dev", "--offline", "--quiet"],
        cwd=ROOT,
        env={**os.environ, "UV_PROJECT_ENVIRONMENT": str(environment)},
        check=True,
        timeout=300,
    )
    return environment / "bin" / "python"


@pytest.fixture
async def server_without_dev_tools(environment_without_dev_tools: Path, tmp_path: Path) -> AsyncIterator[str]:
    async with server_process({"BCRYPT_ROUNDS": "4"}, tmp_path, python=str(environment_without_dev_tools)) as process:
        yield process.url


async def test_serve_runs_without_the_dev_group(environment_without_dev_tools: Path, server_without_dev_tools: str) -> None:
    has_pytest = subprocess.run([str(environment_without_dev_tools), "-c", "import pytest"], capture_output=True)
    health = httpx.post(f"{server_without_dev_tools}/graphql", json={"query": "{ health { status database } }"})

    assert has_pytest.returncode != 0, "the dev group was installed"
    assert health.json() == {"data": {"health": {"status": "ok", "database": True}}}
