"""The engine is a library: it imports nothing from the rest of the tree, nor the web layer or
the database (ARCHITECTURE.md, "The engine and its events")."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ENGINE = Path(__file__).resolve().parents[2] / "services" / "execution"
ENGINE_MODULES = sorted(
    ".".join(path.relative_to(ENGINE.parents[1]).with_suffix("").parts).removesuffix(".__init__")
    for path in ENGINE.rglob("*.py")
)
OTHER_TOP_LEVELS = ("db", "schema", "resolvers", "seeds", "main", "strawberry", "starlette", "sqlalchemy")


def loaded_after_importing(modules: list[str]) -> set[str]:
    code = f"import sys\nfor name in {modules!r}: __import__(name)\nprint(' '.join(sorted(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(result.stdout.split())


def _services_outside_the_engine(name: str) -> bool:
    in_engine = name in ("services", "services.execution") or name.startswith("services.execution.")
    return name.startswith("services") and not in_engine


def test_the_engine_imports_nothing_of_the_tree_outside_it() -> None:
    loaded = loaded_after_importing(ENGINE_MODULES)
    outside = {name for name in loaded if name.split(".")[0] in OTHER_TOP_LEVELS or _services_outside_the_engine(name)}
    assert outside == set()
