"""A page on another origin (an editor's dev server, say) calls the API from headless Chromium:
it signs in, reads with its token (CORS preflights) and runs a flow over a websocket."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from services.platform.settings import Settings
from tests.api.run_client import example
from tests.api_fixtures import provider_settings
from tests.fakes.server import serve_app
from tests.graphql_client import PASSWORD, GraphQLClient
from tests.node_scripts import run_node_script

# The API's own flow-client.js, loaded as a classic script (scripts need no CORS); then every call
# is a cross-origin one.
EDITOR_PAGE = """<!doctype html><meta charset="utf-8"><title>Editor</title>
<script src="%(api)s/static/flow-client.js"></script>
<pre id="result"></pre>
<script>
(async () => {
  const show = (value) => {
    const result = document.getElementById("result");
    result.textContent = JSON.stringify(value);
    result.dataset.done = "yes";
  };
  try {
    const client = new FlowClient.Client(%(api_json)s);
    await client.login("alice", %(password)s);
    const me = (await client.request("query { me { username } }")).me;
    const events = [];
    client.subscribe(
      "subscription($input: RunInput!) { runFlow(input: $input) { __typename seq } }",
      { input: { graph: %(graph)s, providerId: "mistral" } },
      {
        next: (data) => events.push(data.runFlow),
        error: (error) => show({ me, events, error: error.message }),
        complete: () => show({ me, events }),
      }
    );
  } catch (error) {
    show({ error: error.message });
  }
})();
</script>"""


@pytest.fixture
async def editor_origin() -> AsyncIterator[str]:
    """A second server, on another port: the editor's origin."""

    async def page(request: Request) -> HTMLResponse:
        api = request.query_params["api"]
        values = {"api": api, "api_json": json.dumps(api), "password": json.dumps(PASSWORD),
                  "graph": json.dumps(example("story-flow.json"))}
        return HTMLResponse(EDITOR_PAGE % values)

    async with serve_app(Starlette(routes=[Route("/", page)])) as base_url:
        yield base_url


@pytest.fixture
def settings(database_url: str, workdir: Path, provider_url: str, editor_origin: str) -> Settings:
    return provider_settings(database_url, workdir, provider_url, CORS_ORIGINS=editor_origin)


async def test_a_page_on_an_allowed_origin_signs_in_and_runs_a_flow(
    chromium: None, editor_origin: str, live_server: str, live_api: GraphQLClient
) -> None:
    await live_api.signup("alice")

    seen = await run_node_script("other_origin.mjs", {"url": f"{editor_origin}/?api={live_server}"})

    result = seen["result"]
    assert "error" not in result, result
    assert result["me"] == {"username": "alice"}
    assert [event["seq"] for event in result["events"]] == list(range(1, len(result["events"]) + 1))
    assert result["events"][-1]["__typename"] == "RunCompleted"
