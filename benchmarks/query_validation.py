"""How long the server takes to refuse documents built to stall its validation.

    uv run python -m benchmarks.query_validation [--repeats 15] [--only SUBSTRING]

The real server (`python main.py serve`, a subprocess in a fresh temporary directory, so a new
embedded SQLite) and this process as its client over HTTP (httpx, keep-alive). The documents are
those of `tests/query_attacks.py`, each within the 4 MiB body and the 5,000-token limits:
fragments doubling 18 and 39 times, the same field 1,240 times, a selection as wide as the token
limit allows, the same field in many groups, nesting 182 deep, 800 aliases. The anchor, measured
in the same run, is the plainest request: `{ health { status } }`.

Every request's operation gets a name of its own, so the server parses and validates each one
(the validation cache would otherwise answer the repeats). Targets alternate (order reversed
every other round); per target:
- `median ms`, `max ms`: one request on its own, sent to the response received (client's clock);
- `server cpu ms`: the server's CPU time per request on its own (from /proc, summed over the
  rounds; the steadier figure when other processes share the cores);
- `x anchor`: median / the anchor's median;
- `health max ms`: the target's request is then sent again, and `{ health { status } }`
  requests one after another on a second connection while it is handled: the slowest of them,
  i.e. how long the target held up everyone else;
- `refused by`: the setting named by the first error (the anchor must have no error).
Target: each attack refused in under 100 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
from graphql.language import Lexer, Source, TokenKind

from benchmarks._common import REPO, cpu_seconds, free_port, machine, median, subprocess_server, table
from benchmarks.api_throughput import server_env
from tests.query_attacks import ATTACKS, Attack

ANCHOR = Attack("anchor: { health { status } }", "{ health { status } }", "", "")
LIMIT_NAMES = ("MAX_QUERY_COST", "MAX_QUERY_FIELD_COMPARISONS", "MAX_QUERY_DEPTH", "MAX_QUERY_ALIASES", "tokens")


@dataclass
class Timings:
    seconds: list[float] = field(default_factory=list)
    cpu_seconds: float = 0.0
    health_max: float = 0.0
    refused_by: str = ""


async def one_request(
    http: httpx.AsyncClient, other: httpx.AsyncClient, attack: Attack, name: str, server_pid: int, timings: Timings
) -> None:
    """The target's request alone (timed), then again with health requests on `other` meanwhile."""
    body = json.dumps({"query": attack.document(name)}).encode()
    headers = {"content-type": "application/json"}
    cpu_before = cpu_seconds(server_pid)
    began = time.perf_counter()
    response = await http.post("/graphql", content=body, headers=headers)
    timings.seconds.append(time.perf_counter() - began)
    timings.cpu_seconds += cpu_seconds(server_pid) - cpu_before
    timings.refused_by = refusal(response.json())
    body = json.dumps({"query": attack.document(name + "Again")}).encode()
    request = asyncio.create_task(http.post("/graphql", content=body, headers=headers))
    timings.health_max = max(timings.health_max, await health_while(other, request))
    await request


async def health_while(http: httpx.AsyncClient, running: asyncio.Task[httpx.Response]) -> float:
    slowest = 0.0
    await asyncio.sleep(0)  # the target's request goes out first
    while not running.done():
        began = time.perf_counter()
        response = await http.post("/graphql", json={"query": ANCHOR.selection})
        assert response.json() == {"data": {"health": {"status": "ok"}}}, response.text
        slowest = max(slowest, time.perf_counter() - began)
    return slowest


def refusal(body: dict[str, object]) -> str:
    errors = body.get("errors")
    if not isinstance(errors, list) or not errors:
        return "(served)"
    message = str(errors[0].get("message", ""))
    code = errors[0].get("extensions", {}).get("code")
    named = next((limit for limit in LIMIT_NAMES if limit in message), message[:40])
    return f"{named} ({code})"


def token_count(text: str) -> int:
    lexer = Lexer(Source(text))
    count = 0
    while lexer.advance().kind is not TokenKind.EOF:
        count += 1
    return count


async def main(repeats: int, chosen: Callable[[Attack], bool]) -> None:
    targets = [ANCHOR, *(attack for attack in ATTACKS if chosen(attack))]
    timings = {target.name: Timings() for target in targets}
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="bench-validation-") as workdir:
        server_args = [str(REPO / "main.py"), "serve", "--port", str(port), "--log-level", "warning"]
        with subprocess_server(server_args, port=port, cwd=workdir, env=server_env(), inherit_env=False) as server:
            base_url = f"http://127.0.0.1:{port}"
            async with httpx.AsyncClient(base_url=base_url, timeout=120) as http, \
                    httpx.AsyncClient(base_url=base_url, timeout=120) as other:
                for target in targets:  # warm-up
                    await one_request(http, other, target, "Warm", server.pid, Timings())
                for round_ in range(repeats):
                    order = targets if round_ % 2 == 0 else targets[::-1]
                    for target in order:
                        await one_request(http, other, target, f"R{round_}", server.pid, timings[target.name])
    anchor = median(timings[ANCHOR.name].seconds)
    rows = []
    for target in targets:
        measured = timings[target.name]
        document = target.document("R0")
        rows.append([
            target.name, len(document.encode()), token_count(document),
            median(measured.seconds) * 1e3, max(measured.seconds) * 1e3,
            measured.cpu_seconds / repeats * 1e3, median(measured.seconds) / anchor,
            measured.health_max * 1e3, measured.refused_by,
        ])
    print(table(
        ["document", "bytes", "tokens", "median ms", "max ms", "server cpu ms", "x anchor",
         "health max ms", "refused by"],
        rows,
        title=f"Validation of hostile documents over HTTP: {repeats} requests each, alternating; {machine()}",
    ))


def cli() -> None:
    arguments = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    arguments.add_argument("--repeats", type=int, default=15)
    arguments.add_argument("--only", default="", help="measure only the documents whose name contains this")
    options = arguments.parse_args()
    asyncio.run(main(options.repeats, lambda attack: options.only in attack.name))


if __name__ == "__main__":
    cli()
