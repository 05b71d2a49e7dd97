"""The run page (/runs/{id}, /flows/{id}) in headless Chromium: it signs in with its form, draws
the graph, colours each node by its state as the run's events arrive, and shows the outputs.

The fake provider paces its chunks, so a run lasts a few seconds and the page sees it going.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from services.platform.settings import Settings
from tests.api.run_client import START_RUN, create_flow, example
from tests.api_fixtures import provider_settings
from tests.fakes.providers import FakeProviderState, SlowChunks
from tests.graphql_client import PASSWORD, GraphQLClient
from tests.node_scripts import run_node_script

PENDING, RUNNING, COMPLETED = "rgb(215, 219, 226)", "rgb(59, 130, 246)", "rgb(34, 160, 107)"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def settings(database_url: str, workdir: Path, provider_url: str) -> Settings:
    return provider_settings(database_url, workdir, provider_url)


def states_seen(colours: list[str]) -> list[str]:
    """The state colours a node showed, in order (without the blends of its colour transition)."""
    shown = [colour for colour in colours if colour in (PENDING, RUNNING, COMPLETED)]
    return [colour for index, colour in enumerate(shown) if index == 0 or shown[index - 1] != colour]


def only_from(base_url: str, requests: list[str]) -> list[str]:
    """The requests that went anywhere but the server (a CDN, say): none, for a page that works offline."""
    return [url for url in requests if not url.startswith((base_url + "/", base_url.replace("http", "ws", 1) + "/"))]


async def test_the_flow_page_runs_the_flow_and_colours_each_node_as_it_goes(
    chromium: None, live_server: str, live_api: GraphQLClient, fake_providers: FakeProviderState, tmp_path: Path
) -> None:
    alice = await live_api.signup("alice")
    flow_id = await create_flow(live_api, alice, example("story-flow.json"))
    fake_providers.fail_next(*[SlowChunks(seconds=0.08)] * 5)
    screenshot, running = tmp_path / "flow-page.png", tmp_path / "flow-page-running.png"

    seen = await run_node_script(
        "run_page.mjs",
        {"url": f"{live_server}/flows/{flow_id}", "username": "alice", "password": PASSWORD, "start": True,
         "screenshot": str(screenshot), "runningScreenshot": str(running)},
    )

    assert seen["problems"] == [] and seen["status"] == "completed"
    for node in ("enhance", "french", "story", "polish"):
        assert states_seen(seen["colours"][node]) == [PENDING, RUNNING, COMPLETED], node
    assert {"enhance", "story"} <= set(seen["streamed"]), "streamed text shows under the running node"
    assert seen["timeline"] >= 8
    assert seen["tookRunning"] and running.read_bytes().startswith(PNG_SIGNATURE)
    assert screenshot.read_bytes().startswith(PNG_SIGNATURE)
    assert only_from(live_server, seen["requests"]) == []


async def test_the_run_page_follows_a_run_started_elsewhere_and_shows_its_images(
    chromium: None, live_server: str, live_api: GraphQLClient, fake_providers: FakeProviderState, tmp_path: Path
) -> None:
    alice = await live_api.signup("alice")
    fake_providers.fail_next(SlowChunks(seconds=0.15))
    started = await live_api.execute(
        START_RUN, {"input": {"graph": example("image-flow.json"), "providerId": "mistral"}}, token=alice.access_token
    )
    run_id = started.ok()["startRun"]["id"]
    screenshot = tmp_path / "run-page.png"

    seen = await run_node_script(
        "run_page.mjs",
        {"url": f"{live_server}/runs/{run_id}", "username": "alice", "password": PASSWORD, "start": False,
         "screenshot": str(screenshot)},
    )

    assert seen["problems"] == [] and seen["status"] == "completed"
    assert states_seen(seen["colours"]["flux"])[-1] == COMPLETED
    assert seen["images"] and all(width > 0 for width in seen["images"])
    assert screenshot.read_bytes().startswith(PNG_SIGNATURE)
    assert only_from(live_server, seen["requests"]) == []
