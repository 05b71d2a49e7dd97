"""schema.extensions.LeanExtensionsRunner enters a generator hook as contextlib does."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from schema.extensions import _GeneratorHook


def sync_hook(log: list[str], *, swallow: bool = False) -> Iterator[None]:
    log.append("enter")
    try:
        yield
    except ValueError:
        log.append("caught")
        if not swallow:
            raise
    finally:
        log.append("finally")
    log.append("after")


async def async_hook(log: list[str], *, swallow: bool = False) -> AsyncIterator[None]:
    log.append("enter")
    try:
        yield
    except ValueError:
        log.append("caught")
        if not swallow:
            raise
    finally:
        log.append("finally")
    log.append("after")


async def outcome(manager: Any, error: BaseException | None) -> str:
    try:
        async with manager:
            if error is not None:
                raise error
    except BaseException as raised:
        return f"raised {type(raised).__name__}"
    return "returned"


@pytest.mark.parametrize("swallow", [False, True])
@pytest.mark.parametrize("error", [None, ValueError("no"), KeyError("k")])
@pytest.mark.parametrize("is_async", [False, True])
async def test_a_hook_runs_and_propagates_as_under_contextlib(
    is_async: bool, error: BaseException | None, swallow: bool
) -> None:
    hook: Any = async_hook if is_async else sync_hook
    wrap: Any = contextlib.asynccontextmanager if is_async else contextlib.contextmanager
    ours: list[str] = []
    theirs: list[str] = []
    ours_outcome = await outcome(_GeneratorHook(hook(ours, swallow=swallow), is_async=is_async), error)
    theirs_outcome = await outcome(_as_async(wrap(hook)(theirs, swallow=swallow)), error)
    assert (ours_outcome, ours) == (theirs_outcome, theirs)


def _as_async(manager: Any) -> Any:
    if hasattr(manager, "__aenter__"):
        return manager

    class Async:
        async def __aenter__(self) -> None:
            manager.__enter__()

        async def __aexit__(self, *exc: Any) -> bool:
            return bool(manager.__exit__(*exc))

    return Async()
