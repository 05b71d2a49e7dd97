"""The product owner's example flows, run end to end with fake providers."""

from __future__ import annotations

from services.execution.events import NodeOutputDelta, RunCompleted, RunFailed
from tests.execution.fakes import FakeImageProvider, FakeProviders, FakeTextProvider
from tests.execution.graphs import example
from tests.execution.runs import describe, run, statuses


async def test_story_flow_runs_both_branches() -> None:
    provider = FakeTextProvider()
    events = await run(example("story-flow.json"), providers=FakeProviders(provider))
    final = events[-1]
    assert isinstance(final, RunCompleted), describe(final)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert set(final.outputs) == {
        "mira",
        "harbour",
        "idea",
        "enhance",
        "french",
        "prompt-fr",
        "story",
        "polish",
        "story-out",
    }
    # The note is an editor-only node: no events, no output.
    assert statuses(events, "memo") == []
    # idea weaves the persona and the scene in, so it calls the provider: 5 calls in all.
    assert provider.calls == 5
    idea_prompt = final.outputs["idea"]["text"]
    assert "Mira (Description: a young cartographer;" in idea_prompt
    assert "Setting: harbour town. Time of day: dawn." in idea_prompt
    assert final.outputs["prompt-fr"] == final.outputs["french"]
    story_request = next(r for r in provider.requests if r.temperature == 0.95)
    assert "about 150 to 250 words" in story_request.messages[0].content
    assert {e.node_id for e in events if isinstance(e, NodeOutputDelta)} == {
        "idea",
        "enhance",
        "french",
        "story",
        "polish",
    }


async def test_image_flow_generates_and_collects_an_image() -> None:
    images = FakeImageProvider()
    events = await run(
        example("image-flow.json"),
        providers=FakeProviders(FakeTextProvider(reply="a vivid lighthouse"), images),
    )
    final = events[-1]
    assert isinstance(final, RunCompleted), describe(final)
    assert final.outputs["gallery"] == {
        "images": [{"url": "/media/1.png", "width": 1344, "height": 768, "seed": 42}]
    }
    assert images.requests[0].prompt == "a vivid lighthouse"
    assert images.requests[0].steps == 4


async def test_cycle_flow_is_refused_naming_its_nodes() -> None:
    provider = FakeTextProvider()
    events = await run(example("cycle-flow.json"), providers=FakeProviders(provider))
    assert len(events) == 1
    assert isinstance(events[0], RunFailed)
    assert events[0].error == "the graph has a cycle: a -> b -> c -> a"
    assert provider.calls == 0
