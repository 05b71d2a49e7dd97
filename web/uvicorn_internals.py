"""What the web server takes from uvicorn beyond its documented API, in one place.

- Its HTTP protocol classes (httptools' when installed, else h11's), which web.serving extends
  with a deadline for a request's headers: uvicorn has none (`timeout_keep_alive` is reset by
  every byte; Kludex/uvicorn#157 asked for such timeouts and was closed without this one). The
  extension relies on `connection_made(transport)`, `connection_lost(exc)` and
  `handle_websocket_upgrade(...)`, on `transport`, and on `app` (set from `config.loaded_app`)
  being read again for each request once its headers are complete.
- `Server._captured_signals`: the signals uvicorn re-raises once it has stopped. A SIGTERM that
  DrainingServer handles itself is captured here, so the process still ends as it would have.
  No public API captures a signal (`handle_exit` also sets `should_exit`, which stops at once).

tests/test_library_internals.py fails, naming uvicorn's version, when an upgrade changes them.
"""

from __future__ import annotations

import asyncio

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # pragma: no cover - httptools comes with uvicorn[standard]
    HttpToolsProtocol = None  # type: ignore[assignment, misc]


def http_protocol_class() -> type[asyncio.Protocol]:
    """uvicorn's HTTP protocol, as `http="auto"` picks it."""
    return HttpToolsProtocol if HttpToolsProtocol is not None else H11Protocol


def capture_signal(server: uvicorn.Server, sig: int) -> None:
    """Have `server` raise `sig` again once it has stopped, as uvicorn does with the signals it
    handles."""
    server._captured_signals.append(sig)
