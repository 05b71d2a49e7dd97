"""How the schema executes a subscription's events: the selection is worked out once per
subscription, not once per event.

graphql-core executes each event of a subscription on a copy of the subscription's executor
(`build_per_event_executor`) and, for each, collects the operation's fields again, then the
fields of the event's type (the inline fragments of the RunEvent interface tried one by one):
the same work, with the same answer, for every event, since a subscription's document and
variables do not change while it runs. Its memo of collected sub-fields is keyed by the
identity of the root's freshly collected field lists, so it never hits across events (and
kept one entry per event for the subscription's life).

`EventExecutor` keeps, for the life of one subscription:
- the root fields collected for the first event, reused for every later one, so graphql-core's
  own memo of collected sub-fields hits from the second event on;
- per (object type, collected fields), a `LeafPlan` when every selected field is plain data:
  `__typename` or a field without a resolver of its own, arguments or field extension, whose
  type is a scalar or an enum (plans depend on the schema and the selection only, so the
  subscriptions of one schema share them: `KnownPlans`). An event's object is then read
  straight into its result, coerced as graphql-core coerces it; any value graphql-core would
  turn into an error (null for a non-null field, a value the type cannot serialise) sends
  that object through graphql-core's own execution instead, which reports it as it always has.

From the second event on, the subscription's field itself (which passes the event on) is not
executed field by field either: the event's type is resolved and checked with graphql-core's
functions, then its plan reads it (`EventExecutor.execute_operation`).

Queries and mutations execute as Strawberry executes them; so do subscriptions whenever a
schema extension resolves fields (tracing) or the operation can be aborted.
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any, ClassVar, NamedTuple, cast

from graphql import (
    ExecutionResult,
    ExperimentalIncrementalExecutionResults,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLLeafType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLUnionType,
    OperationType,
    is_leaf_type,
)
from graphql.pyutils import AwaitableOrValue, Path, Undefined, is_awaitable
from strawberry.extensions import SchemaExtension
from strawberry.extensions.context import StreamResultContextManager, WrappedHook
from strawberry.resolvers import is_default_resolver
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types import ExecutionContext
from strawberry.types.execution import StreamExecutionResult
from strawberry.types.field import StrawberryField
from strawberry.utils.await_maybe import await_maybe

from schema.extensions import HookKinds, LeanExtensionsRunner
from schema.graphql_core_internals import (
    CollectedErrors,
    DeferUsage,
    DeliveryGroupMap,
    FieldDetailsList,
    GroupedFieldSet,
    to_nodes,
)
from schema.strawberry_internals import StreamResultHooks, stream_result_hooks

TYPENAME = "__typename"
STRAWBERRY_DEFINITION = GraphQLCoreConverter.DEFINITION_BACKREF


class LeafField(NamedTuple):
    response_name: str
    # What Strawberry's resolver of a field without one does: `read(source, attribute)`
    # (StrawberryField.get_result, the schema's default resolver, getattr unless configured).
    read: Any
    attribute: str
    leaf_type: GraphQLLeafType
    non_null: bool


class LeafPlan:
    """The result of an object whose selected fields are all plain data, read without
    graphql-core's per-field machinery."""

    __slots__ = ("fields", "type_name")

    def __init__(self, type_name: str, fields: Sequence[tuple[str, LeafField | None]]) -> None:
        self.type_name = type_name
        self.fields = fields  # (response name, None for __typename)

    @classmethod
    def of(cls, parent_type: GraphQLObjectType, grouped_field_set: GroupedFieldSet) -> LeafPlan | None:
        fields: list[tuple[str, LeafField | None]] = []
        for response_name, field_details_list in grouped_field_set.items():
            node = field_details_list[0].node
            name = node.name.value
            if name == TYPENAME:
                fields.append((response_name, None))
                continue
            field = parent_type.fields.get(name)
            leaf = _plain_leaf(response_name, field) if field is not None and not node.arguments else None
            if leaf is None:
                return None
            fields.append((response_name, leaf))
        return cls(parent_type.name, fields)

    def complete(self, source: Any) -> dict[str, Any] | None:
        """The object's result; None when a value needs graphql-core's execution: an error to
        report (a failing read, null for a non-null field, a value its type cannot serialise)
        or an awaitable to await."""
        data: dict[str, Any] = {}
        try:
            for response_name, field in self.fields:
                if field is None:
                    data[response_name] = self.type_name
                    continue
                value = field.read(source, field.attribute)
                if value is None or value is Undefined:
                    if field.non_null:
                        return None
                    data[response_name] = None
                    continue
                if isinstance(value, Exception) or is_awaitable(value):
                    return None
                coerced = field.leaf_type.coerce_output_value(value)
                if coerced is None or coerced is Undefined:
                    return None
                data[response_name] = coerced
        except Exception:
            return None
        return data


def _plain_leaf(response_name: str, field: GraphQLField) -> LeafField | None:
    """A field that only reads an attribute of a scalar or enum type, as Strawberry builds it
    for a field without a resolver (a default resolver, and its definition a basic field)."""
    definition = (field.extensions or {}).get(STRAWBERRY_DEFINITION)
    if (
        field.args
        or field.resolve is None
        or not is_default_resolver(field.resolve)
        or not isinstance(definition, StrawberryField)
        or not definition.is_basic_field
    ):
        return None
    field_type = field.type
    non_null = isinstance(field_type, GraphQLNonNull)
    leaf_type = field_type.of_type if isinstance(field_type, GraphQLNonNull) else field_type
    if not is_leaf_type(leaf_type):
        return None
    return LeafField(response_name, definition.default_resolver, definition.python_name, leaf_type, non_null)


def _discarded(value: object) -> bool:
    """An awaitable where a value was expected: closed unawaited (graphql-core executes the
    event again, and awaits it there)."""
    if not is_awaitable(value):
        return False
    close = getattr(value, "close", None)
    if close is not None:
        close()
    return True


class KnownPlans:
    """Leaf plans by object type and selection (response names, field names, whether given
    arguments): what a plan depends on. Most subscriptions send the same few documents, so
    their plans are made once; the least recently used go beyond `maxsize`."""

    def __init__(self, maxsize: int = 1024) -> None:
        self.maxsize = maxsize
        self._plans: OrderedDict[tuple[GraphQLObjectType, tuple[tuple[str, str, bool], ...]], LeafPlan | None] = (
            OrderedDict()
        )

    def __len__(self) -> int:
        return len(self._plans)

    def plan(self, parent_type: GraphQLObjectType, grouped_field_set: GroupedFieldSet) -> LeafPlan | None:
        selection = tuple(
            (response_name, details[0].node.name.value, bool(details[0].node.arguments))
            for response_name, details in grouped_field_set.items()
        )
        key = (parent_type, selection)
        if key in self._plans:
            self._plans.move_to_end(key)
            return self._plans[key]
        plan = self._plans[key] = LeafPlan.of(parent_type, grouped_field_set)
        if len(self._plans) > self.maxsize:
            self._plans.popitem(last=False)
        return plan


class EventExecutor(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's executor, executing a subscription's events with what it worked out for
    the first one (see the module's docstring)."""

    # One per schema (for_schema): a module-wide one would be shared by every schema of the
    # process, whatever their types.
    known_plans: ClassVar[KnownPlans]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.is_event = False
        # Shared with every per-event copy, like graphql-core's memo of sub-fields: they live
        # as long as the subscription. Plans are keyed by the collected fields' identity, and
        # keep them, so that the identity is not reused.
        self._event_root_fields: dict[GraphQLObjectType, GroupedFieldSet] = {}
        self._leaf_plans: dict[tuple[GraphQLObjectType, int], tuple[GroupedFieldSet, LeafPlan | None]] = {}

    def build_per_event_executor(self, payload: Any) -> EventExecutor:
        # graphql-core's shallow copy (copy.copy), without copy's generic protocol.
        executor = object.__new__(type(self))
        executor.__dict__.update(self.__dict__)
        executor.root_value = payload
        executor.collected_errors = CollectedErrors()
        executor.is_event = True
        return executor

    def execute_operation(
        self, serially: bool | None = None
    ) -> AwaitableOrValue[ExecutionResult | ExperimentalIncrementalExecutionResults]:
        if self.is_event and self._event_root_fields and self._reads_plainly():
            data = self._event_data()
            if data is not None:
                return self.finish(self.build_response(data))
        return super().execute_operation(serially)

    def _event_data(self) -> dict[str, Any] | None:
        """An event's result, from the fields collected for the first one: the subscription's
        field (which passes the event on), its type resolved and checked as graphql-core
        does, and the event's own fields by their plan. None when anything is not plain (an
        error to report, a field with a resolver): graphql-core executes the event then."""
        ((root_type, grouped_field_set),) = self._event_root_fields.items()
        if len(grouped_field_set) != 1:
            return None
        ((response_name, field_details_list),) = grouped_field_set.items()
        field = root_type.fields.get(field_details_list[0].node.name.value)
        definition = None if field is None else (field.extensions or {}).get(STRAWBERRY_DEFINITION)
        event = self.root_value
        if field is None or not isinstance(definition, StrawberryField) or not definition.is_subscription:
            return None
        if event is None or isinstance(event, Exception):
            return None
        try:
            data = self._object_data(root_type, field, response_name, field_details_list, event)
        except Exception:
            return None
        return None if data is None else {response_name: data}

    def _object_data(
        self,
        root_type: GraphQLObjectType,
        field: GraphQLField,
        response_name: str,
        field_details_list: FieldDetailsList,
        event: Any,
    ) -> dict[str, Any] | None:
        field_type = field.type.of_type if isinstance(field.type, GraphQLNonNull) else field.type
        info = self.build_resolve_info(
            field, to_nodes(field_details_list), root_type, Path(None, response_name, root_type.name)
        )
        if isinstance(field_type, GraphQLInterfaceType | GraphQLUnionType):
            resolve_type = field_type.resolve_type or self.type_resolver
            type_name = resolve_type(event, info, field_type)
            if _discarded(type_name):
                return None
            object_type = self.ensure_valid_runtime_type(type_name, field_type, field_details_list, info, event)
        elif isinstance(field_type, GraphQLObjectType):
            object_type = field_type
        else:
            return None
        if object_type.is_type_of is not None:
            matches = object_type.is_type_of(event, info)
            if _discarded(matches) or not matches:
                return None
        collected, new_defer_usages, _ = self.collect_subfields(object_type, field_details_list)
        plan = None if new_defer_usages else self._leaf_plan(object_type, collected)
        return None if plan is None else plan.complete(event)

    def execute_collected_root_fields(
        self,
        root_type: GraphQLObjectType,
        root_value: Any,
        grouped_field_set: GroupedFieldSet,
        serially: bool,
        new_defer_usages: Sequence[DeferUsage],
    ) -> AwaitableOrValue[dict[str, Any]]:
        if self.is_event and not new_defer_usages:
            # The same document and variables collect the same fields: the first event's are
            # kept, so that the memo of sub-fields (keyed by their identity) serves the rest.
            grouped_field_set = self._event_root_fields.setdefault(root_type, grouped_field_set)
        return super().execute_collected_root_fields(root_type, root_value, grouped_field_set, serially, new_defer_usages)

    def execute_collected_subfields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Any,
        grouped_field_set: GroupedFieldSet,
        new_defer_usages: Sequence[DeferUsage],
        delivery_group_map: DeliveryGroupMap | None,
    ) -> AwaitableOrValue[dict[str, Any]]:
        if self.is_event and delivery_group_map is None and not new_defer_usages and self._reads_plainly():
            plan = self._leaf_plan(parent_type, grouped_field_set)
            data = None if plan is None else plan.complete(source_value)
            if data is not None:
                return data
        return super().execute_collected_subfields(
            parent_type, source_value, path, grouped_field_set, new_defer_usages, delivery_group_map
        )

    def _reads_plainly(self) -> bool:
        """No middleware around resolvers (a tracing extension), nothing that can abort."""
        manager = self.middleware_manager
        return (
            self.operation.operation is OperationType.SUBSCRIPTION
            and (manager is None or not manager.middlewares)
            and self.abort_signal is None
        )

    def _leaf_plan(self, parent_type: GraphQLObjectType, grouped_field_set: GroupedFieldSet) -> LeafPlan | None:
        key = (parent_type, id(grouped_field_set))
        known = self._leaf_plans.get(key)
        if known is not None and known[0] is grouped_field_set:
            return known[1]
        plan = self.known_plans.plan(parent_type, grouped_field_set)
        self._leaf_plans[key] = (grouped_field_set, plan)
        return plan

    @classmethod
    def for_schema(cls, plans: KnownPlans) -> type[EventExecutor]:
        """A class of its own for one schema, whose subscriptions share `plans`."""
        return type(cls.__name__, (cls,), {"known_plans": plans})


class OperationHooks(LeanExtensionsRunner):
    """The runner of extension hooks (stages entered as LeanExtensionsRunner does), which also
    finds each stream result's hooks once per operation instead of once per result (a
    subscription's events are its stream results), and asks only the extensions that have
    results for them."""

    def __init__(
        self, execution_context: ExecutionContext, extensions: list[SchemaExtension] | None, hook_kinds: HookKinds
    ) -> None:
        super().__init__(execution_context, extensions, hook_kinds)
        self._stream_result_hooks = stream_result_hooks(self.extensions)
        self._with_results = [
            extension for extension in self.extensions if type(extension).get_results is not SchemaExtension.get_results
        ]

    def on_stream_result(self, result: StreamExecutionResult) -> StreamResultContextManager:
        hooks = self._stream_result_hooks
        if not hooks:
            return _NO_HOOKS  # type: ignore[return-value]
        if len(hooks) == 1 and not hooks[0].is_async:
            return _OneSyncHook(hooks[0], result)  # type: ignore[return-value]
        return StreamResultHooks(hooks, result)

    async def get_extensions_results(self, ctx: ExecutionContext) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for extension in self._with_results:
            data.update(await await_maybe(extension.get_results()))
        data.update(ctx.extensions_results)
        return data


class _OneSyncHook:
    """The one (synchronous) hook of a stream result, entered as it is, without an exit stack."""

    __slots__ = ("_entered", "hook", "result")

    def __init__(self, hook: WrappedHook, result: StreamExecutionResult) -> None:
        self.hook = hook
        self.result = result

    async def __aenter__(self) -> None:
        self._entered = cast("contextlib.AbstractContextManager[None]", self.hook.hook(self.result))
        self._entered.__enter__()

    async def __aexit__(self, *exc_info: Any) -> bool | None:
        return self._entered.__exit__(*exc_info)


_NO_HOOKS = contextlib.nullcontext()
