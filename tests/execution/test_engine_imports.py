"""The engine is a library: it must not pull in the database or the web layer."""

from __future__ import annotations

import subprocess
import sys

FORBIDDEN = ("db", "schema", "resolvers", "strawberry", "starlette", "sqlalchemy")


def test_engine_imports_neither_database_nor_web_layer() -> None:
    code = (
        "import sys, services.execution.runner, services.execution.events; "
        "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    loaded = set(result.stdout.split())
    assert loaded.isdisjoint(FORBIDDEN), loaded & set(FORBIDDEN)
