"""What the GraphQL layer takes from Strawberry beyond its documented API, in one place.

Every private member of Strawberry the code uses is read here; the rest of the tree calls these
functions. The undocumented (but not underscored) classes it extends are named below too, with
what it relies on, since an upgrade can change them as silently. tests/test_library_internals.py
fails, naming Strawberry's version, when one of these facts no longer holds.

- `Schema._schema`, the graphql-core schema Strawberry built: no public accessor (maintainers
  point to `_schema`: strawberry-graphql/strawberry#2590).
- `Info._raw_info`, graphql-core's resolve info: `Info.selected_fields` is the public view, but
  it converts the whole selection (arguments included) where `resolvers.common.selects` walks
  one path of it.
- `BaseView._stream_transport_map`, the streaming transports (multipart, SSE) the view serves:
  no public accessor; web.view answers plain JSON POSTs itself only when there are none.
- A stream result's hooks: StreamResultContextManager(extensions, result) finds them in its
  `__init__` (into `hooks`) and enters `hook.hook(self.result)` for each; OperationHooks
  (schema.execution) finds them once per operation and builds the manager from them
  (`StreamResultHooks`). Upstream, the runner builds the manager anew for every result.
- SchemaExtensionsRunner (`operation`, `parsing`, `validation`, `executing`: context managers)
  and `Schema.create_extensions_runner`, which LeanExtensionsRunner and AppSchema override.
- `StrawberryGraphQLCoreExecutionContext`, graphql-core's executor as Strawberry configures it,
  which schema.execution.EventExecutor extends (graphql-core's part: schema.graphql_core_internals).
- `strawberry.resolvers.is_default_resolver` and the fields' `DEFINITION_BACKREF` extension: a
  field without a resolver of its own reads an attribute (plans in schema.execution).
"""

from __future__ import annotations

from typing import Any

from graphql import GraphQLResolveInfo, GraphQLSchema
from strawberry.extensions import SchemaExtension
from strawberry.extensions.context import StreamResultContextManager, WrappedHook
from strawberry.http.base import BaseView
from strawberry.schema import Schema
from strawberry.types import Info
from strawberry.types.execution import StreamExecutionResult


def graphql_schema(schema: Schema) -> GraphQLSchema:
    """The graphql-core schema of a Strawberry schema."""
    return schema._schema


def resolve_info(info: Info[Any, Any]) -> GraphQLResolveInfo:
    """graphql-core's resolve info under Strawberry's Info."""
    return info._raw_info


def serves_streams(view: BaseView[Any]) -> bool:
    """Whether the view serves any streaming HTTP transport (multipart, server-sent events)."""
    return bool(view._stream_transport_map)


def stream_result_hooks(extensions: list[SchemaExtension]) -> list[WrappedHook]:
    """The extensions' `on_stream_result` hooks, as Strawberry wraps them."""
    return StreamResultContextManager(extensions, None).hooks  # type: ignore[arg-type]


class StreamResultHooks(StreamResultContextManager):
    """Strawberry's context manager for one stream result, given the hooks found already."""

    def __init__(self, hooks: list[WrappedHook], result: StreamExecutionResult) -> None:  # noqa: D107
        self.hooks = hooks
        self.result = result
