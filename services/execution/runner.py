"""The scheduler: runs a flow and yields its events (ARCHITECTURE.md, "The engine and its events").

`run_flow` is an async generator. A node starts the moment its last input is done (one asyncio
task per node, finished nodes report on a queue), so independent branches overlap and the wall
time follows the critical path, with no barrier per topological level.

Choices where the spec is silent:
- A graph that fails validation yields a single `RunFailed` (seq 1), not even `RunStarted`.
- Every node the run needs gets PENDING first; then RUNNING or CACHED; then `NodeCompleted`
  (a cached node's too, so every output reaches the client the same way) or `NodeFailed`;
  descendants of a failed node get SKIPPED, other branches go on. The run ends with
  `RunCompleted` (node id -> output) if no node failed, else `RunFailed` naming every failed node.
- Partial runs: nodes the trigger's subgraph does not need get no events at all. Ancestors come
  from `cached_outputs`, else from the result cache (looked up once their inputs are known, as
  the key depends on them), else run. Without a trigger, `cached_outputs` is ignored: a full
  run regenerates everything.
- Resuming (`RunRequest.resume`, a run taken over after its worker stopped): the log goes on
  after the stored seq without a second `RunStarted`; nodes with stored outputs are CACHED
  (`NodeCompleted` again, for followers that join here), the others run.
- Cancelling (token, or closing the generator) cancels the nodes' tasks, and so their provider
  calls; with the token, the unfinished nodes get CANCELLED and `RunCancelled` ends the stream.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, Any

from services.execution.cache import ResultCache, cache_key
from services.execution.events import (
    NodeCompleted,
    NodeFailed,
    NodeOutputDelta,
    NodeStatus,
    NodeStatusChanged,
    RunCancelled,
    RunCompleted,
    RunEvent,
    RunFailed,
    RunStarted,
)
from services.execution.executors import (
    EXECUTORS,
    CharacterLookup,
    EngineServices,
    Executor,
    JSONObject,
    MediaStore,
    NodeContext,
    NodeError,
    ProviderLookup,
    collect_inputs,
)
from services.execution.graph import Graph, GraphLimits
from services.execution.models import ModelResolutionError
from services.execution.providers.base import ProviderError
from services.execution.validation import (
    DEFAULT_LIMITS,
    ExecutionPlan,
    GraphValidationError,
    PlannedNode,
    validate_graph,
)

if TYPE_CHECKING:
    from services.execution.catalog import Catalog

logger = logging.getLogger(__name__)

# Failures whose message is meant for the user; anything else is a bug, logged in full.
NODE_FAILURES = (NodeError, ModelResolutionError, ProviderError)
INTERNAL_ERROR = "internal error while running this node (details in the server log)"


class CancelToken:
    """Cancels a run from elsewhere in the same event loop, e.g. a cancelRun mutation."""

    def __init__(self) -> None:
        self._cancelled = False
        self._callbacks: list[Callable[[], None]] = []

    def cancel(self) -> None:
        if not self._cancelled:
            self._cancelled = True
            for callback in list(self._callbacks):
                callback()

    def subscribe(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call `callback` on cancel (at once if already cancelled); returns an unsubscribe."""
        if self._cancelled:
            callback()
        self._callbacks.append(callback)
        return lambda: self._callbacks.remove(callback)


@dataclass(frozen=True)
class Resume:
    """Where a run taken over by another worker goes on: after `after_seq`, with the outputs its
    completed nodes stored."""

    after_seq: int
    completed: Mapping[str, Any] = field(default_factory=dict)  # node id -> stored output


@dataclass(frozen=True)
class RunRequest:
    run_id: str
    graph: Graph | ExecutionPlan  # a plan skips validation
    flow_provider_id: str | None = None
    flow_id: str | None = None
    trigger_node_id: str | None = None
    cached_outputs: Mapping[str, Any] = field(default_factory=dict)  # node id -> output
    cancel_token: CancelToken | None = None
    # Consecutive deltas of a node within this many seconds become one event (0: each is one),
    # so event counts follow what a person can see rather than the provider's chunking.
    delta_window: float = 0.0
    resume: Resume | None = None


@dataclass(frozen=True)
class Selection:
    """Which nodes a run needs, and how each gets its output."""

    order: tuple[str, ...]  # the needed nodes, in topological order
    cached: Mapping[str, JSONObject]  # given by the client
    lookup: frozenset[str]  # ancestors of a partial run: result cache first, else run


def select_nodes(
    plan: ExecutionPlan, *, trigger_node_id: str | None, cached_outputs: Mapping[str, Any]
) -> Selection:
    if trigger_node_id is None:
        return Selection(order=tuple(plan.nodes), cached={}, lookup=frozenset())
    _require_trigger(plan, trigger_node_id)
    needed = {trigger_node_id} | plan.descendants(trigger_node_id)
    cached: dict[str, JSONObject] = {}
    lookup: set[str] = set()
    stack = list(needed)
    while stack:
        for source in plan.nodes[stack.pop()].upstream:
            if source in needed:
                continue
            needed.add(source)
            if source in cached_outputs:
                cached[source] = _cached_output(source, cached_outputs[source])
            else:
                lookup.add(source)
                stack.append(source)  # it may run, so its own inputs are needed too
    order = tuple(node_id for node_id in plan.nodes if node_id in needed)
    return Selection(order=order, cached=cached, lookup=frozenset(lookup))


def _resumed(selection: Selection, resume: Resume) -> Selection:
    """Nodes completed before the takeover keep their outputs instead of running again."""
    stored = {
        node_id: dict(output)
        for node_id, output in resume.completed.items()
        if node_id in selection.order and isinstance(output, dict)
    }
    return Selection(
        order=selection.order,
        cached={**selection.cached, **stored},
        lookup=selection.lookup - stored.keys(),
    )


def _require_trigger(plan: ExecutionPlan, trigger_node_id: str) -> None:
    if trigger_node_id in plan.ignored:
        raise GraphValidationError(
            f"triggerNodeId {trigger_node_id!r} is an editor-only node, which does not run"
        )
    if trigger_node_id not in plan.nodes:
        raise GraphValidationError(f"triggerNodeId {trigger_node_id!r} is not a node of this graph")


def _cached_output(node_id: str, output: object) -> JSONObject:
    if not isinstance(output, dict):
        raise GraphValidationError(f"cachedOutputs[{node_id!r}] must be an object")
    return output


async def run_flow(
    request: RunRequest,
    *,
    catalog: Catalog,
    providers: ProviderLookup,
    media: MediaStore | None = None,
    characters: CharacterLookup | None = None,
    result_cache: ResultCache | None = None,
    limits: GraphLimits = DEFAULT_LIMITS,
    executors: Mapping[str, Executor] = EXECUTORS,
) -> AsyncGenerator[RunEvent, None]:
    try:
        plan = _plan(request, catalog, limits)
        selection = select_nodes(
            plan, trigger_node_id=request.trigger_node_id, cached_outputs=request.cached_outputs
        )
        _require_executors(plan, selection, executors)
    except GraphValidationError as error:
        first_seq = request.resume.after_seq + 1 if request.resume else 1
        yield RunFailed(run_id=request.run_id, seq=first_seq, at=datetime.now(UTC), error=error.message)
        return
    if request.resume is not None:
        selection = _resumed(selection, request.resume)
    run = _RunState(
        request=request,
        plan=plan,
        selection=selection,
        services=EngineServices(providers=providers, media=media, characters=characters),
        result_cache=result_cache,
        executors=executors,
    )
    token = request.cancel_token
    unsubscribe = token.subscribe(run.request_cancel) if token else _nothing
    try:
        for event in run.start():
            yield event
        while run.tasks:
            message = await run.queue.get()
            if isinstance(message, _Cancel):
                for event in await run.cancel():
                    yield event
                return
            for event in run.handle(message):
                yield event
        yield run.final_event()
    finally:
        # Also reached when the consumer closes the generator (a closed subscription).
        unsubscribe()
        await run.abort()


def _plan(request: RunRequest, catalog: Catalog, limits: GraphLimits) -> ExecutionPlan:
    if isinstance(request.graph, ExecutionPlan):
        return request.graph
    return validate_graph(request.graph, catalog, limits)


def _require_executors(
    plan: ExecutionPlan, selection: Selection, executors: Mapping[str, Executor]
) -> None:
    for node_id in selection.order:
        node = plan.nodes[node_id].node
        if node.type not in executors:
            raise GraphValidationError(f"node {node_id!r}: type {node.type!r} cannot run here")


def _nothing() -> None:
    return None


# --- what node tasks tell the scheduler -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Delta:
    node_id: str
    text: str


@dataclass(frozen=True, slots=True)
class _Started:
    node_id: str  # a result-cache miss: the node runs after all


@dataclass(frozen=True, slots=True)
class _Done:
    node_id: str
    output: JSONObject
    cache_key: str
    from_cache: bool


@dataclass(frozen=True, slots=True)
class _Failed:
    node_id: str
    error: str


@dataclass(frozen=True, slots=True)
class _Cancel:
    pass


@dataclass(frozen=True, slots=True)
class _FlushDeltas:
    pass


_Message = _Delta | _Started | _Done | _Failed | _Cancel | _FlushDeltas


class _RunState:
    """One run's state. Only the generator's loop mutates it, so it needs no locks."""

    def __init__(
        self,
        *,
        request: RunRequest,
        plan: ExecutionPlan,
        selection: Selection,
        services: EngineServices,
        result_cache: ResultCache | None,
        executors: Mapping[str, Executor],
    ) -> None:
        self.run_id = request.run_id
        self.flow_id = request.flow_id
        self.flow_provider_id = request.flow_provider_id
        self.plan = plan
        self.selection = selection
        self.services = services
        self.result_cache = result_cache
        self.lookup = selection.lookup if result_cache is not None else frozenset()
        self.executors = executors
        self.queue: asyncio.Queue[_Message] = asyncio.Queue()
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self.status: dict[str, NodeStatus] = {}
        self.waiting: dict[str, int] = {}  # unstarted node -> inputs not yet done
        self.outputs: dict[str, JSONObject] = {}
        self.failures: dict[str, str] = {}
        self.resumed = request.resume is not None
        self.seq = request.resume.after_seq if request.resume else 0
        self.delta_window = request.delta_window
        self.held_deltas: dict[str, list[str]] = {}  # node id -> text not yet sent, in order

    # --- scheduling -----------------------------------------------------------------------------

    def start(self) -> list[RunEvent]:
        order = self.selection.order
        cached = self.selection.cached
        events: list[RunEvent] = []
        if not self.resumed:
            events.append(RunStarted(run_id=self.run_id, seq=self._next_seq(), at=datetime.now(UTC), flow_id=self.flow_id))
        # A resumed run's unfinished nodes may have been RUNNING when its worker stopped.
        events.extend(
            self._set_status(node_id, NodeStatus.PENDING)
            for node_id in order
            if not (self.resumed and node_id in cached)
        )
        for node_id in (node_id for node_id in order if node_id in cached):
            events.append(self._set_status(node_id, NodeStatus.CACHED))
            events.append(self._complete(node_id, cached[node_id], key=None))
        for node_id in order:
            if node_id not in self.outputs:
                upstream = self.plan.nodes[node_id].upstream
                self.waiting[node_id] = sum(1 for source in upstream if source not in self.outputs)
        for node_id in [node_id for node_id, count in self.waiting.items() if count == 0]:
            events.extend(self._start(node_id))
        return events

    def handle(self, message: _Message) -> list[RunEvent]:
        if isinstance(message, _Delta):
            return self._on_delta(message)
        if isinstance(message, _FlushDeltas):
            return self._flush_deltas()
        if isinstance(message, _Started):
            return [self._set_status(message.node_id, NodeStatus.RUNNING)]
        if isinstance(message, _Done):
            return [*self._flush_deltas(message.node_id), *self._on_done(message)]
        if isinstance(message, _Failed):
            return [*self._flush_deltas(message.node_id), *self._on_failed(message)]
        return []

    def _on_delta(self, message: _Delta) -> list[RunEvent]:
        if not self.delta_window:
            return [self._delta_event(message.node_id, message.text)]
        if not self.held_deltas:
            loop = asyncio.get_running_loop()
            loop.call_later(self.delta_window, self.queue.put_nowait, _FlushDeltas())
        self.held_deltas.setdefault(message.node_id, []).append(message.text)
        return []

    def _flush_deltas(self, node_id: str | None = None) -> list[RunEvent]:
        """Held text as one delta per node: every node's (the window closed), or one node's
        (it is about to complete or fail, and its text must come first)."""
        if node_id is not None:
            pieces = self.held_deltas.pop(node_id, None)
            return [self._delta_event(node_id, "".join(pieces))] if pieces else []
        held, self.held_deltas = self.held_deltas, {}
        return [self._delta_event(node, "".join(pieces)) for node, pieces in held.items()]

    def _start(self, node_id: str) -> list[RunEvent]:
        del self.waiting[node_id]
        self.tasks[node_id] = asyncio.create_task(
            self._execute(node_id), name=f"run {self.run_id} node {node_id}"
        )
        if node_id in self.lookup:
            return []  # RUNNING only once the result cache has missed
        return [self._set_status(node_id, NodeStatus.RUNNING)]

    def _on_done(self, message: _Done) -> list[RunEvent]:
        node_id = message.node_id
        del self.tasks[node_id]
        events: list[RunEvent] = []
        if message.from_cache:
            events.append(self._set_status(node_id, NodeStatus.CACHED))
        events.append(self._complete(node_id, message.output, key=message.cache_key))
        for target in self.plan.nodes[node_id].downstream:
            remaining = self.waiting.get(target)
            if remaining == 1:
                events.extend(self._start(target))
            elif remaining is not None:
                self.waiting[target] = remaining - 1
        return events

    def _on_failed(self, message: _Failed) -> list[RunEvent]:
        node_id = message.node_id
        del self.tasks[node_id]
        self.status[node_id] = NodeStatus.FAILED
        self.failures[node_id] = message.error
        events: list[RunEvent] = [
            NodeFailed(
                run_id=self.run_id,
                seq=self._next_seq(),
                at=datetime.now(UTC),
                node_id=node_id,
                error=message.error,
            )
        ]
        # Descendants cannot have started: each waits for this node's output.
        descendants = self.plan.descendants(node_id)
        for target in [n for n in self.selection.order if n in descendants]:
            if self.waiting.pop(target, None) is not None:
                events.append(self._set_status(target, NodeStatus.SKIPPED))
        return events

    def final_event(self) -> RunEvent:
        if self.failures:
            error = "; ".join(
                f"node {node_id!r} failed: {e}" for node_id, e in self.failures.items()
            )
            return RunFailed(run_id=self.run_id, seq=self._next_seq(), at=datetime.now(UTC), error=error)
        outputs = {n: self.outputs[n] for n in self.selection.order if n in self.outputs}
        return RunCompleted(run_id=self.run_id, seq=self._next_seq(), at=datetime.now(UTC), outputs=outputs)

    # --- cancelling -----------------------------------------------------------------------------

    def request_cancel(self) -> None:
        self.queue.put_nowait(_Cancel())

    async def cancel(self) -> list[RunEvent]:
        await self.abort()
        unfinished = (NodeStatus.PENDING, NodeStatus.RUNNING)
        events: list[RunEvent] = self._flush_deltas()
        events += [
            self._set_status(node_id, NodeStatus.CANCELLED)
            for node_id in self.selection.order
            if self.status[node_id] in unfinished
        ]
        events.append(RunCancelled(run_id=self.run_id, seq=self._next_seq(), at=datetime.now(UTC)))
        return events

    async def abort(self) -> None:
        tasks = list(self.tasks.values())
        self.tasks.clear()
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    # --- inside a node's task -------------------------------------------------------------------

    async def _execute(self, node_id: str) -> None:
        planned = self.plan.nodes[node_id]
        try:
            inputs = collect_inputs(planned, self.outputs)
            key = cache_key(
                node_type=planned.node.type,
                data=planned.node.data,
                inputs=inputs,
                provider_id=self._key_provider(planned),
            )
            if node_id in self.lookup:
                stored = await self._lookup(key)
                if stored is not None:
                    self.queue.put_nowait(_Done(node_id, stored, key, from_cache=True))
                    return
                self.queue.put_nowait(_Started(node_id))
            context = NodeContext(
                node=planned.node,
                spec=planned.spec,
                inputs=inputs,
                services=self.services,
                flow_provider_id=self.flow_provider_id,
                emit_delta=partial(self._emit_delta, node_id),
            )
            output = await self.executors[planned.node.type](context)
        except NODE_FAILURES as error:
            self.queue.put_nowait(_Failed(node_id, str(error)))
        except Exception:
            logger.exception(
                "run %s: node %s (%s) crashed", self.run_id, node_id, planned.node.type
            )
            self.queue.put_nowait(_Failed(node_id, INTERNAL_ERROR))
        else:
            self.queue.put_nowait(_Done(node_id, output, key, from_cache=False))

    async def _lookup(self, key: str) -> JSONObject | None:
        assert self.result_cache is not None
        try:
            stored = await self.result_cache.lookup(key)
        except Exception:
            # The cache only saves work: when it fails, the node runs.
            logger.exception("run %s: result cache lookup failed", self.run_id)
            return None
        return dict(stored) if stored is not None else None

    def _key_provider(self, planned: PlannedNode) -> str | None:
        config = planned.spec.api_config
        calls_provider = config is not None and config.provider_call != "none"
        return self.flow_provider_id if calls_provider else None

    def _emit_delta(self, node_id: str, text: str) -> None:
        if text:
            self.queue.put_nowait(_Delta(node_id, text))

    # --- events ---------------------------------------------------------------------------------

    def _next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def _set_status(self, node_id: str, status: NodeStatus) -> NodeStatusChanged:
        self.status[node_id] = status
        return NodeStatusChanged(
            run_id=self.run_id, seq=self._next_seq(), at=datetime.now(UTC), node_id=node_id, status=status
        )

    def _complete(self, node_id: str, output: JSONObject, *, key: str | None) -> NodeCompleted:
        self.outputs[node_id] = output
        if self.status[node_id] is not NodeStatus.CACHED:
            self.status[node_id] = NodeStatus.COMPLETED
        return NodeCompleted(
            run_id=self.run_id,
            seq=self._next_seq(),
            at=datetime.now(UTC),
            node_id=node_id,
            output=output,
            cache_key=key,
        )

    def _delta_event(self, node_id: str, text: str) -> NodeOutputDelta:
        return NodeOutputDelta(
            run_id=self.run_id, seq=self._next_seq(), at=datetime.now(UTC), node_id=node_id, delta=text
        )
