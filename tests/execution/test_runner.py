from __future__ import annotations

import asyncio
import random
from typing import Any

from services.execution.components import CATALOG
from services.execution.events import (
    NodeCompleted,
    NodeOutputDelta,
    NodeStatus,
    NodeStatusChanged,
    RunCancelled,
    RunCompleted,
    RunEvent,
    RunFailed,
    RunStarted,
)
from services.execution.executors import EXECUTORS, NodeContext, ProviderLookup
from services.execution.providers.base import ProviderError
from services.execution.providers.registry import ProviderRegistry
from services.execution.runner import INTERNAL_ERROR, CancelToken, Resume, RunRequest, run_flow
from services.execution.validation import validate_graph
from tests.execution.fakes import FakeProviders, FakeResultCache, FakeTextProvider
from tests.execution.graphs import edge, graph, node
from tests.execution.runs import describe, run, statuses
from tests.waiting import stall, wait_until


def simple_chain() -> list[dict[str, Any]]:
    return [
        node("idea", "initialPrompt", text="a cat"),
        node("enh", "promptEnhancer"),
        node("out", "textOutput"),
    ]


async def test_small_run_yields_the_exact_event_sequence() -> None:
    provider = FakeTextProvider(reply="a fluffy cat")
    events = await run(
        graph(simple_chain(), [edge("idea", "enh"), edge("enh", "out")]),
        providers=FakeProviders(provider),
    )
    assert [describe(e) for e in events] == [
        ("RunStarted",),
        ("idea", "pending"),
        ("enh", "pending"),
        ("out", "pending"),
        ("idea", "running"),
        ("idea", "completed"),
        ("enh", "running"),
        ("enh", "delta", "a "),
        ("enh", "delta", "fluffy "),
        ("enh", "delta", "cat"),
        ("enh", "completed"),
        ("out", "running"),
        ("out", "completed"),
        ("RunCompleted",),
    ]
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert all(e.run_id == "run-1" for e in events)
    final = events[-1]
    assert isinstance(final, RunCompleted)
    assert final.outputs == {
        "idea": {"text": "a cat"},
        "enh": {"text": "a fluffy cat"},
        "out": {"text": "a fluffy cat"},
    }


async def test_a_resumed_run_goes_on_after_the_stored_seq_and_reruns_only_unfinished_nodes() -> None:
    provider = FakeTextProvider(reply="a fluffy cat")
    events = await run(
        graph(simple_chain(), [edge("idea", "enh"), edge("enh", "out")]),
        providers=FakeProviders(provider),
        resume=Resume(after_seq=7, completed={"idea": {"text": "a cat"}}),
    )
    assert [describe(e) for e in events] == [
        ("enh", "pending"),
        ("out", "pending"),
        ("idea", "cached"),
        ("idea", "completed"),
        ("enh", "running"),
        ("enh", "delta", "a "),
        ("enh", "delta", "fluffy "),
        ("enh", "delta", "cat"),
        ("enh", "completed"),
        ("out", "running"),
        ("out", "completed"),
        ("RunCompleted",),
    ]
    assert [e.seq for e in events] == list(range(8, 8 + len(events)))
    assert provider.calls == 1
    final = events[-1]
    assert isinstance(final, RunCompleted)
    assert final.outputs["idea"] == {"text": "a cat"}


async def test_a_resumed_run_whose_graph_no_longer_validates_fails_after_the_stored_seq() -> None:
    events = await run(
        graph([node("idea", "noSuchType")]),
        resume=Resume(after_seq=4, completed={}),
    )
    assert [(type(e).__name__, e.seq) for e in events] == [("RunFailed", 5)]


async def test_deltas_within_the_window_become_one_event_sent_before_the_node_completes() -> None:
    provider = FakeTextProvider(reply="a fluffy cat")
    events = await run(
        graph(simple_chain(), [edge("idea", "enh"), edge("enh", "out")]),
        providers=FakeProviders(provider),
        delta_window=60.0,  # never reached: the node's completion sends what it holds
    )
    described = [describe(e) for e in events]
    assert deltas(events) == [("enh", "delta", "a fluffy cat")]
    assert described.index(("enh", "delta", "a fluffy cat")) + 1 == described.index(("enh", "completed"))
    assert [e.seq for e in events] == list(range(1, len(events) + 1))


def deltas(events: list[RunEvent]) -> list[tuple[str, ...]]:
    return [describe(e) for e in events if isinstance(e, NodeOutputDelta)]


class PausingProvider(FakeTextProvider):
    """Sends its pieces `pause` seconds apart."""

    def __init__(self, pieces: list[str], pause: float) -> None:
        super().__init__()
        self.pieces = pieces
        self.pause = pause

    async def stream_text(self, request: Any) -> Any:
        for index, piece in enumerate(self.pieces):
            if index:
                await stall(self.pause)
            yield piece


async def test_deltas_further_apart_than_the_window_stay_separate_events() -> None:
    provider = PausingProvider(["once ", "upon ", "a time"], pause=0.3)
    events = await run(
        graph(simple_chain(), [edge("idea", "enh"), edge("enh", "out")]),
        providers=FakeProviders(provider),
        delta_window=0.01,
    )
    assert deltas(events) == [
        ("enh", "delta", "once "),
        ("enh", "delta", "upon "),
        ("enh", "delta", "a time"),
    ]


async def test_completed_events_carry_the_cache_key() -> None:
    events = await run(graph(simple_chain(), [edge("idea", "enh"), edge("enh", "out")]))
    keys = [e.cache_key for e in events if isinstance(e, NodeCompleted)]
    assert len(keys) == 3 and all(key and len(key) == 64 for key in keys)


async def test_run_started_carries_the_flow_id() -> None:
    request = RunRequest(
        run_id="r", graph=graph([node("idea", "initialPrompt", text="x")]), flow_id="f1"
    )
    events = [e async for e in run_flow(request, catalog=CATALOG, providers=FakeProviders())]
    assert isinstance(events[0], RunStarted) and events[0].flow_id == "f1"


async def test_invalid_graph_yields_one_run_failed_and_runs_nothing() -> None:
    provider = FakeTextProvider()
    nodes = [node("idea", "initialPrompt", text="x"), node("enh", "promptEnhancer")]
    events = await run(
        graph(nodes, [edge("idea", "enh", "text", "nope")]), providers=FakeProviders(provider)
    )
    assert len(events) == 1
    assert isinstance(events[0], RunFailed) and events[0].seq == 1
    assert "has no input port 'nope'" in events[0].error
    assert provider.calls == 0


async def test_an_already_validated_plan_runs_as_is() -> None:
    plan = validate_graph(graph([node("idea", "initialPrompt", text="x")]), CATALOG)
    request = RunRequest(run_id="r", graph=plan)
    events = [e async for e in run_flow(request, catalog=CATALOG, providers=FakeProviders())]
    assert isinstance(events[-1], RunCompleted) and events[-1].outputs == {"idea": {"text": "x"}}


async def test_empty_graph_completes_with_no_outputs() -> None:
    events = await run(graph([node("memo", "note", text="hello")]))
    assert [describe(e) for e in events] == [("RunStarted",), ("RunCompleted",)]


# --- scheduling -------------------------------------------------------------------------------


def two_branches() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    nodes = [
        node("idea1", "initialPrompt", text="one"),
        node("enh1", "promptEnhancer"),
        node("out1", "textOutput"),
        node("idea2", "initialPrompt", text="two", y=200),
        node("enh2", "promptEnhancer", y=200),
        node("out2", "textOutput", y=200),
    ]
    edges = [
        edge("idea1", "enh1"),
        edge("enh1", "out1"),
        edge("idea2", "enh2"),
        edge("enh2", "out2"),
    ]
    return nodes, edges


class MeetingProvider(FakeTextProvider):
    """Each call waits until `parties` calls are in flight at once: calls made one after the
    other never meet, and the node fails."""

    def __init__(self, provider_id: str = "mistral", *, parties: int) -> None:
        super().__init__(provider_id)
        self.parties = parties
        self.arrived = 0
        self.all_here = asyncio.Event()

    async def stream_text(self, request: Any) -> Any:
        self.arrived += 1
        if self.arrived == self.parties:
            self.all_here.set()
        await asyncio.wait_for(self.all_here.wait(), timeout=5)
        yield "met"


class SignallingProvider(FakeTextProvider):
    """Sets `called` when its first call starts, then answers."""

    def __init__(self, provider_id: str) -> None:
        super().__init__(provider_id)
        self.called = asyncio.Event()

    async def stream_text(self, request: Any) -> Any:
        self.called.set()
        yield "signalled"


class WaitingProvider(FakeTextProvider):
    """Answers only once `signal` is set (the run fails that node after 5 s otherwise)."""

    def __init__(self, provider_id: str, signal: asyncio.Event) -> None:
        super().__init__(provider_id)
        self.signal = signal

    async def stream_text(self, request: Any) -> Any:
        await asyncio.wait_for(self.signal.wait(), timeout=5)
        yield "waited"


async def test_independent_branches_run_concurrently() -> None:
    nodes, edges = two_branches()
    provider = MeetingProvider(parties=2)
    events = await run(graph(nodes, edges), providers=FakeProviders(provider))
    assert isinstance(events[-1], RunCompleted), events[-1]


async def test_a_node_starts_when_its_inputs_are_done_not_when_its_level_is() -> None:
    # a1 (level 1) answers only once b2 (level 2) has started: with a barrier per level b2
    # would wait for a1, and a1 for b2.
    b2_started = SignallingProvider("openrouter")
    nodes = [
        node("idea1", "initialPrompt", text="one"),
        node("a1", "promptEnhancer", model={"provider": "glm"}),
        node("a2", "grammarFix"),
        node("idea2", "initialPrompt", text="two", y=200),
        node("b1", "promptEnhancer", y=200),
        node("b2", "grammarFix", y=200, model={"provider": "openrouter"}),
    ]
    edges = [edge("idea1", "a1"), edge("a1", "a2"), edge("idea2", "b1"), edge("b1", "b2")]
    providers = FakeProviders(
        FakeTextProvider("mistral"), WaitingProvider("glm", b2_started.called), b2_started
    )
    events = await run(graph(nodes, edges), providers=providers)
    assert isinstance(events[-1], RunCompleted), events[-1]


async def test_text_inputs_are_merged_in_canvas_order() -> None:
    nodes = [
        node("second", "initialPrompt", text="second", x=0, y=100),
        node("first", "initialPrompt", text="first", x=0, y=0),
        node("out", "textOutput", x=300),
    ]
    events = await run(graph(nodes, [edge("second", "out"), edge("first", "out")]))
    final = events[-1]
    assert isinstance(final, RunCompleted)
    assert final.outputs["out"] == {"text": "first\n\nsecond"}


# --- failures ---------------------------------------------------------------------------------


async def test_failed_node_skips_its_descendants_and_other_branches_finish() -> None:
    nodes, edges = two_branches()
    nodes.append(node("fix1", "grammarFix"))
    edges.append(edge("enh1", "fix1"))
    nodes[1] = node("enh1", "promptEnhancer", model={"provider": "glm"})
    failing = FakeTextProvider("glm", error=ProviderError("glm", "rate limited"))
    events = await run(graph(nodes, edges), providers=FakeProviders(FakeTextProvider(), failing))
    assert statuses(events, "enh1") == ["pending", "running", "failed"]
    assert statuses(events, "out1") == ["pending", "skipped"]
    assert statuses(events, "fix1") == ["pending", "skipped"]
    assert statuses(events, "out2") == ["pending", "running", "completed"]
    final = events[-1]
    assert isinstance(final, RunFailed)
    assert final.error == "node 'enh1' failed: glm: rate limited"


async def test_unavailable_provider_fails_the_node_naming_the_setting() -> None:
    events = await run(
        graph(simple_chain(), [edge("idea", "enh"), edge("enh", "out")]),
        providers=FakeProviders(),
        flow_provider_id="claude",
    )
    failed = [d for d in map(describe, events) if d[1:2] == ("failed",)]
    assert failed == [("enh", "failed", "claude: not configured: set ANTHROPIC_API_KEY")]
    assert statuses(events, "out") == ["pending", "skipped"]
    assert isinstance(events[-1], RunFailed)


async def test_missing_flow_provider_fails_the_node_that_needs_one() -> None:
    events = await run(
        graph(simple_chain(), [edge("idea", "enh"), edge("enh", "out")]), flow_provider_id=None
    )
    assert (
        "enh",
        "failed",
        "no provider chosen: choose the flow's provider or set this node's model",
    ) in [describe(e) for e in events]
    assert statuses(events, "idea") == ["pending", "running", "completed"]


async def test_unexpected_executor_error_fails_the_node_without_details() -> None:
    async def broken(context: NodeContext) -> dict[str, Any]:
        raise KeyError("secret internals")

    events = await run(
        graph([node("idea", "initialPrompt", text="x")]),
        executors={**EXECUTORS, "initialPrompt": broken},
    )
    assert ("idea", "failed", INTERNAL_ERROR) in [describe(e) for e in events]
    assert isinstance(events[-1], RunFailed)


async def test_several_failures_are_all_named() -> None:
    nodes = [node("a", "promptEnhancer"), node("b", "grammarFix")]
    events = await run(graph(nodes))
    final = events[-1]
    assert isinstance(final, RunFailed)
    assert "node 'a' failed: no input text" in final.error
    assert "node 'b' failed: no input text" in final.error


# --- partial re-execution ---------------------------------------------------------------------


def partial_graph() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    nodes = [
        node("idea", "initialPrompt", text="a cat"),
        node("enh", "promptEnhancer"),
        node("fix", "grammarFix"),
        node("out", "textOutput"),
        node("side", "grammarFix", y=200),
        node("side-out", "textOutput", y=200),
    ]
    edges = [
        edge("idea", "enh"),
        edge("enh", "fix"),
        edge("fix", "out"),
        edge("idea", "side"),
        edge("side", "side-out"),
    ]
    return nodes, edges


async def test_partial_run_takes_ancestors_from_cached_outputs() -> None:
    nodes, edges = partial_graph()
    provider = FakeTextProvider(reply="fixed")
    events = await run(
        graph(nodes, edges),
        providers=FakeProviders(provider),
        trigger_node_id="fix",
        cached_outputs={"enh": {"text": "cached enhancement"}, "side": {"text": "unused"}},
    )
    assert statuses(events, "enh") == ["pending", "cached", "completed"]
    assert statuses(events, "fix") == ["pending", "running", "completed"]
    assert statuses(events, "out") == ["pending", "running", "completed"]
    # Not needed by the trigger's subgraph: no events at all.
    for node_id in ("idea", "side", "side-out"):
        assert statuses(events, node_id) == []
    assert provider.calls == 1
    assert provider.requests[0].messages[1].content == "cached enhancement"
    final = events[-1]
    assert isinstance(final, RunCompleted)
    assert set(final.outputs) == {"enh", "fix", "out"}


async def test_partial_run_takes_ancestors_from_the_result_cache() -> None:
    nodes, edges = partial_graph()
    provider = FakeTextProvider()
    first = await run(graph(nodes, edges), providers=FakeProviders(provider))
    cache = FakeResultCache(
        {e.cache_key: e.output for e in first if isinstance(e, NodeCompleted) and e.cache_key}
    )
    calls_before = provider.calls
    events = await run(
        graph(nodes, edges),
        providers=FakeProviders(provider),
        trigger_node_id="fix",
        result_cache=cache,
    )
    assert statuses(events, "idea") == ["pending", "cached", "completed"]
    assert statuses(events, "enh") == ["pending", "cached", "completed"]
    assert statuses(events, "fix") == ["pending", "running", "completed"]
    assert provider.calls - calls_before == 1
    assert len(cache.lookups) == 2  # idea and enh; the trigger itself always runs


async def test_partial_run_runs_ancestors_missing_from_every_cache() -> None:
    nodes, edges = partial_graph()
    provider = FakeTextProvider()
    events = await run(
        graph(nodes, edges),
        providers=FakeProviders(provider),
        trigger_node_id="fix",
        result_cache=FakeResultCache(),
    )
    assert statuses(events, "idea") == ["pending", "running", "completed"]
    assert statuses(events, "enh") == ["pending", "running", "completed"]
    assert provider.calls == 2


async def test_partial_run_always_reruns_the_trigger_and_its_descendants() -> None:
    nodes, edges = partial_graph()
    events = await run(
        graph(nodes, edges),
        trigger_node_id="enh",
        cached_outputs={"idea": {"text": "x"}, "enh": {"text": "old"}, "fix": {"text": "old"}},
    )
    assert statuses(events, "enh") == ["pending", "running", "completed"]
    assert statuses(events, "fix") == ["pending", "running", "completed"]


async def test_unknown_trigger_node_fails_the_run() -> None:
    nodes, edges = partial_graph()
    events = await run(graph(nodes, edges), trigger_node_id="ghost")
    assert len(events) == 1 and isinstance(events[0], RunFailed)
    assert events[0].error == "triggerNodeId 'ghost' is not a node of this graph"


async def test_malformed_cached_output_fails_the_run() -> None:
    nodes, edges = partial_graph()
    events = await run(graph(nodes, edges), trigger_node_id="fix", cached_outputs={"enh": "text"})
    assert len(events) == 1 and isinstance(events[0], RunFailed)
    assert events[0].error == "cachedOutputs['enh'] must be an object"


async def test_cached_output_of_the_wrong_shape_fails_the_node_using_it() -> None:
    nodes, edges = partial_graph()
    events = await run(
        graph(nodes, edges), trigger_node_id="fix", cached_outputs={"enh": {"txt": "x"}}
    )
    assert ("fix", "failed", "the output of node 'enh' has no 'text' (str)") in [
        describe(e) for e in events
    ]


# --- cancellation -----------------------------------------------------------------------------


async def test_cancel_token_cancels_in_flight_calls_and_pending_nodes() -> None:
    provider = FakeTextProvider(delay=30)
    token = CancelToken()
    request = RunRequest(
        run_id="r",
        graph=graph(simple_chain(), [edge("idea", "enh"), edge("enh", "out")]),
        flow_provider_id="mistral",
        cancel_token=token,
    )
    events = []
    async for event in run_flow(request, catalog=CATALOG, providers=FakeProviders(provider)):
        events.append(event)
        if describe(event) == ("enh", "running"):
            await provider.started.wait()
            token.cancel()
    assert statuses(events, "enh") == ["pending", "running", "cancelled"]
    assert statuses(events, "out") == ["pending", "cancelled"]
    assert statuses(events, "idea") == ["pending", "running", "completed"]
    assert isinstance(events[-1], RunCancelled)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert provider.cancelled == 1


async def test_cancel_before_start_cancels_every_node() -> None:
    token = CancelToken()
    token.cancel()
    events = await run(
        graph(simple_chain(), [edge("idea", "enh"), edge("enh", "out")]), cancel_token=token
    )
    assert isinstance(events[-1], RunCancelled)
    assert all(statuses(events, n)[-1] == "cancelled" for n in ("idea", "enh", "out"))


async def test_closing_the_event_stream_cancels_in_flight_provider_calls() -> None:
    provider = FakeTextProvider(delay=30)
    nodes, edges = two_branches()
    request = RunRequest(run_id="r", graph=graph(nodes, edges), flow_provider_id="mistral")
    events = run_flow(request, catalog=CATALOG, providers=FakeProviders(provider))
    async for event in events:
        if (
            isinstance(event, NodeStatusChanged)
            and event.status is NodeStatus.RUNNING
            and event.node_id == "enh2"
        ):
            break
    await wait_until(lambda: provider.calls == 2, what="both provider calls in flight")
    await events.aclose()
    assert provider.cancelled == 2
    assert not [t for t in asyncio.all_tasks() if t.get_name().startswith("run r node")]


async def test_cancelling_the_consuming_task_cancels_in_flight_provider_calls() -> None:
    provider = FakeTextProvider(delay=30)
    request = RunRequest(
        run_id="r",
        graph=graph(simple_chain(), [edge("idea", "enh"), edge("enh", "out")]),
        flow_provider_id="mistral",
    )

    async def consume() -> None:
        async for _ in run_flow(request, catalog=CATALOG, providers=FakeProviders(provider)):
            pass

    consumer = asyncio.create_task(consume())
    await provider.started.wait()
    consumer.cancel()
    await asyncio.gather(consumer, return_exceptions=True)
    assert provider.cancelled == 1
    assert not [t for t in asyncio.all_tasks() if t.get_name().startswith("run r node")]


async def test_a_token_cancelled_after_the_run_changes_nothing() -> None:
    token = CancelToken()
    events = await run(
        graph(simple_chain(), [edge("idea", "enh"), edge("enh", "out")]), cancel_token=token
    )
    token.cancel()
    assert isinstance(events[-1], RunCompleted)


# --- size -------------------------------------------------------------------------------------


def random_dag(size: int, seed: int = 7) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Text nodes that call no provider: an initial prompt, then compressors fed by 1-3
    earlier nodes, all ending in one text output."""
    rng = random.Random(seed)
    nodes = [node("n0", "initialPrompt", text="seed text")]
    edges: list[dict[str, Any]] = []
    for index in range(1, size - 1):
        nodes.append(node(f"n{index}", "compressor", x=index, maxChars=100_000))
        for source in sorted(rng.sample(range(index), min(index, rng.randint(1, 3)))):
            edges.append(edge(f"n{source}", f"n{index}"))
    nodes.append(node("out", "textOutput", x=size))
    edges.append(edge(f"n{size - 2}", "out"))
    return nodes, edges


async def test_a_thousand_node_graph_runs() -> None:
    nodes, edges = random_dag(1_000)
    provider = FakeTextProvider()
    events = await run(graph(nodes, edges), providers=FakeProviders(provider))
    assert isinstance(events[-1], RunCompleted)
    assert len(events[-1].outputs) == 1_000
    assert sum(isinstance(e, NodeCompleted) for e in events) == 1_000
    assert provider.calls == 0


async def test_real_registry_without_keys_fails_the_node_naming_the_setting() -> None:
    registry: ProviderLookup = ProviderRegistry.from_settings({})
    request = RunRequest(
        run_id="r",
        graph=graph(simple_chain(), [edge("idea", "enh"), edge("enh", "out")]),
        flow_provider_id="mistral",
    )
    events = [e async for e in run_flow(request, catalog=CATALOG, providers=registry)]
    assert ("enh", "failed", "mistral: MISTRAL_API_KEY is not set") in [describe(e) for e in events]
