"""The schema's extension: what happens around every operation (see OperationLifecycle)."""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from graphql import (
    ArgumentNode,
    DocumentNode,
    GraphQLError,
    ValueNode,
    VariableDefinitionNode,
    Visitor,
    value_from_ast_untyped,
    visit,
)
from graphql.language.visitor import SKIP, VisitorActionEnum
from starlette.websockets import WebSocket
from strawberry.extensions import SchemaExtension
from strawberry.extensions.runner import SchemaExtensionsRunner
from strawberry.types import StreamExecutionResult
from strawberry.types.execution import ExecutionContext
from strawberry.types.graphql import OperationType

from schema.context import Context
from schema.errors import code_result_errors, code_stream_errors, coded_error, internal_error
from schema.metrics import observe_operation
from schema.query_limits import ValidationRules, validate_query
from schema.strawberry_internals import graphql_schema
from services.errors import BadInput, DomainError
from services.platform.input_checks import check_json_value
from services.platform.metrics import Metrics
from services.platform.write_conflicts import lost_race

logger = logging.getLogger(__name__)


class OperationLifecycle(SchemaExtension):
    """Everything an operation needs around it, in one extension (Strawberry builds a context
    manager for each hook of each extension, for every operation: one extension costs a
    quarter of four):

    - metrics: counts and times the operation (schema.metrics), seeing its final result;
    - the database: each operation gets its own context (session, loaders), authenticates
      before it executes, and commits only if it succeeded;
    - errors: every error of the result gets its code, the unexpected ones masked as INTERNAL
      (schema.errors), before the transaction ends;
    - validation: parsing, validation and input checks (see Validation).
    """

    def __init__(self, validation: Validation, metrics: Metrics) -> None:
        self.validation = validation
        self.metrics = metrics

    async def on_operation(self) -> AsyncIterator[None]:
        started = time.perf_counter()
        connection_context = self.execution_context.context
        if not isinstance(connection_context, Context):
            yield
            code_result_errors(self.execution_context.result)
            observe_operation(self.metrics, self.execution_context, started)
            return
        context = connection_context.for_operation()
        self.execution_context.context = context
        try:
            yield
            code_result_errors(self.execution_context.result)
        finally:
            await self._finish(context)
        observe_operation(self.metrics, self.execution_context, started)

    async def _finish(self, context: Context) -> None:
        result = self.execution_context.result
        succeeded = result is not None and _keeps_changes(getattr(result, "errors", None))
        try:
            await context.finish(succeeded=succeeded)
        except Exception as error:
            race = lost_race(error)
            if race is None:
                logger.exception("could not finish the operation's transaction")
            if result is not None:
                result.data = None
                result.errors = [internal_error() if race is None else coded_error(race)]

    def on_parse(self) -> Iterator[None]:
        self.validation.execution_context = self.execution_context
        yield from self.validation.on_parse()

    def on_validate(self) -> Iterator[None]:
        self.validation.execution_context = self.execution_context
        yield from self.validation.on_validate()

    async def on_execute(self) -> AsyncIterator[None]:
        context = self.execution_context.context
        if isinstance(context, Context) and self.execution_context.operation_type is not OperationType.SUBSCRIPTION:
            # Authenticate first, on a connection of its own that is back in the pool before the
            # operation takes one: holding one while waiting for another deadlocks a busy pool.
            # (The operation's own connection is opened by its first statement, if any: see
            # db.engine.ConnectOnceSession. Subscriptions use short sessions of their own.)
            with contextlib.suppress(DomainError):
                await context.actor()
        yield

    def on_stream_result(self, result: StreamExecutionResult) -> Iterator[None]:
        code_stream_errors(result)
        yield None


class ValidDocuments:
    """The query texts that passed validation (by digest), least recently used first, and the
    parsed documents of the most recent small ones.

    Parsed documents are kept only for texts of at most `max_document_chars`, and at most
    `max_documents` of them: each is thousands of Python objects, and kept by the hundred they
    make every full garbage collection slower than parsing them again would be."""

    def __init__(self, maxsize: int = 1024, *, max_documents: int = 128, max_document_chars: int = 8192) -> None:
        self.maxsize = maxsize
        self.max_documents = max_documents
        self.max_document_chars = max_document_chars
        self._digests: OrderedDict[bytes, None] = OrderedDict()
        self._documents: OrderedDict[bytes, DocumentNode] = OrderedDict()

    def __contains__(self, digest: bytes) -> bool:
        if digest not in self._digests:
            return False
        self._digests.move_to_end(digest)
        return True

    def document(self, digest: bytes) -> DocumentNode | None:
        document = self._documents.get(digest)
        if document is not None:
            self._documents.move_to_end(digest)
        return document

    def add(self, digest: bytes, query: str, document: DocumentNode) -> None:
        self._digests[digest] = None
        if len(self._digests) > self.maxsize:
            self._digests.popitem(last=False)
        if len(query) <= self.max_document_chars:
            self._documents[digest] = document
            if len(self._documents) > self.max_documents:
                self._documents.popitem(last=False)


def query_digest(query: str) -> bytes:
    return hashlib.blake2b(query.encode(), digest_size=16).digest()


class Validation:
    """Parses, validates and checks the client's input before any resolver runs.

    - The token limit (MAX_QUERY_TOKENS) applies while parsing, as Strawberry's
      MaxTokensLimiter applies it.
    - The schema's rules (see schema.query_limits) run once per query text. This replaces
      Strawberry's ParserCache and ValidationCache, which key their LRUs on the text and the
      parsed document and so keep every document they saw (128 of them): 5,000-token documents
      are ~17,000 objects each, and kept they made every full garbage collection hundreds of ms
      longer. This keeps a digest of the texts that passed, and the parsed documents of small
      ones (see ValidDocuments): a refused text is parsed and validated again if sent again. A
      text passes when the rules find nothing and every literal argument written in it passes
      `check_json_value`.
    - Every request's variables pass `check_json_value` too (values that no database can store
      or no client can read back, at any depth, on every transport), and subscriptions need a
      websocket: over HTTP they are a client error, not a crash.

    Refusals are reported as validation errors, which every transport answers and masks. (Its
    hooks run within OperationLifecycle: Strawberry enters every extension's hooks for every
    operation and every subscription event.)
    """

    execution_context: ExecutionContext

    def __init__(self, rules: ValidationRules, valid: ValidDocuments, *, max_tokens: int, max_json_depth: int) -> None:
        self.rules = rules
        self.valid = valid
        self.max_tokens = max_tokens
        self.max_json_depth = max_json_depth
        self._digest: bytes | None = None

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        context.parse_options["max_tokens"] = self.max_tokens
        if context.query:
            self._digest = query_digest(context.query)
            context.graphql_document = self.valid.document(self._digest)
        yield

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        digest = self._digest
        if digest is not None and digest in self.valid:
            errors: list[GraphQLError] = []
        else:
            assert context.graphql_document is not None  # parsed before validation
            errors = validate_query(graphql_schema(context.schema), context.graphql_document, self.rules)
            if not errors:
                errors = self._refused(lambda: self._check_literals(context.graphql_document))
            if digest is not None and context.query and not errors:
                self.valid.add(digest, context.query, context.graphql_document)
        context.pre_execution_errors = errors or self._refused(self._check_request)
        yield

    def _check_literals(self, document: DocumentNode | None) -> None:
        for name, literal in _literal_arguments(document) if document is not None else ():
            check_json_value(name, value_from_ast_untyped(literal), max_depth=self.max_json_depth)

    def _check_request(self) -> None:
        execution_context = self.execution_context
        context = execution_context.context
        if (
            execution_context.operation_type is OperationType.SUBSCRIPTION
            and isinstance(context, Context)
            and not isinstance(context.request, WebSocket)
        ):
            raise BadInput("query", "subscriptions are served over a websocket at /graphql, not over HTTP")
        for name, value in (execution_context.variables or {}).items():
            check_json_value(name, value, max_depth=self.max_json_depth)

    @staticmethod
    def _refused(check: Callable[[], None]) -> list[GraphQLError]:
        try:
            check()
        except BadInput as error:
            return [GraphQLError(error.message, original_error=error)]
        return []


def _keeps_changes(errors: list[GraphQLError] | None) -> bool:
    return all(
        isinstance(error.original_error, DomainError) and error.original_error.keeps_changes
        for error in errors or ()
    )


def _literal_arguments(document: DocumentNode) -> list[tuple[str, ValueNode]]:
    """Every argument value and variable default written in the document, by its name."""
    collector = _LiteralCollector()
    visit(document, collector)
    return collector.found


class _LiteralCollector(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, ValueNode]] = []

    def enter_argument(self, node: ArgumentNode, *_: object) -> VisitorActionEnum:
        self.found.append((node.name.value, node.value))
        return SKIP

    def enter_variable_definition(self, node: VariableDefinitionNode, *_: object) -> VisitorActionEnum:
        if node.default_value is not None:
            self.found.append((node.variable.name.value, node.default_value))
        return SKIP


# --- a leaner runner for the extension's hooks --------------------------------------------------


class LeanExtensionsRunner(SchemaExtensionsRunner):
    """Strawberry's runner, entering a stage's hook without building a context manager for it
    anew (Strawberry inspects every extension's hook, wraps it with functools.update_wrapper
    and enters it through an ExitStack, for each of the four stages of every operation: a
    tenth of a small query's cost). Where a stage has exactly one hook and it is a generator
    (as all of OperationLifecycle's are), it is entered here, with contextlib's semantics;
    anything else (tracing adds hooks to every stage) goes through Strawberry's own managers.
    What kind each hook is, is found once per schema (`hook_kinds`)."""

    def __init__(
        self, execution_context: ExecutionContext, extensions: list[SchemaExtension] | None, hook_kinds: HookKinds
    ) -> None:
        super().__init__(execution_context, extensions)
        self._hook_kinds = hook_kinds

    def operation(self) -> Any:
        return self._stage("on_operation") or super().operation()

    def parsing(self) -> Any:
        return self._stage("on_parse") or super().parsing()

    def validation(self) -> Any:
        return self._stage("on_validate") or super().validation()

    def executing(self) -> Any:
        return self._stage("on_execute") or super().executing()

    def _stage(self, hook_name: str) -> _GeneratorHook | None:
        if len(self.extensions) != 1:
            return None
        extension = self.extensions[0]
        kind = self._hook_kinds[type(extension), hook_name]
        if kind is None:
            return None
        if kind == "none":
            return _NO_HOOK
        return _GeneratorHook(getattr(extension, hook_name)(), is_async=kind == "async")


class HookKinds(dict[tuple[type, str], str | None]):
    """The kind of each (extension class, hook name), inspected once: "sync" or "async" (a
    generator hook), "none" (not overridden), None (anything else). Held by the schema
    (AppSchema), not the module, so that two schemas in one process do not share what they
    found; a dict, so that a known hook costs one lookup."""

    def __missing__(self, key: tuple[type, str]) -> str | None:
        kind = self[key] = _inspected_hook_kind(*key)
        return kind


def _inspected_hook_kind(extension_class: type, hook_name: str) -> str | None:
    hook = getattr(extension_class, hook_name)
    if hook is getattr(SchemaExtension, hook_name):
        return "none"
    if inspect.isasyncgenfunction(hook):
        return "async"
    if inspect.isgeneratorfunction(hook):
        return "sync"
    return None


class _GeneratorHook:
    """One generator hook entered as contextlib.contextmanager (or asynccontextmanager) would
    enter it: run to its yield, then on exit resumed, or thrown the exception into."""

    __slots__ = ("_generator", "_is_async")

    def __init__(self, generator: Any, *, is_async: bool) -> None:
        self._generator = generator
        self._is_async = is_async

    def __enter__(self) -> None:
        if self._is_async:
            raise RuntimeError("an async extension hook cannot run in synchronous execution")
        if self._generator is not None:
            try:
                next(self._generator)
            except StopIteration:
                raise RuntimeError("generator didn't yield") from None

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, traceback: Any) -> bool:
        generator = self._generator
        if generator is None:
            return False
        if kind is None:
            try:
                next(generator)
            except StopIteration:
                return False
            generator.close()
            raise RuntimeError("generator didn't stop")
        error = error if error is not None else kind()
        try:
            generator.throw(error)
        except StopIteration as stopped:
            return stopped is not error
        except BaseException as raised:
            if raised is not error:
                raise
            return False
        generator.close()
        raise RuntimeError("generator didn't stop after throw()")

    async def __aenter__(self) -> None:
        if not self._is_async:
            self.__enter__()
            return
        try:
            await anext(self._generator)
        except StopAsyncIteration:
            raise RuntimeError("generator didn't yield") from None

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: Any
    ) -> bool:
        if not self._is_async:
            return self.__exit__(kind, error, traceback)
        generator = self._generator
        if kind is None:
            try:
                await anext(generator)
            except StopAsyncIteration:
                return False
            await generator.aclose()
            raise RuntimeError("generator didn't stop")
        error = error if error is not None else kind()
        try:
            await generator.athrow(error)
        except StopAsyncIteration as stopped:
            return stopped is not error
        except BaseException as raised:
            if raised is not error:
                raise
            return False
        await generator.aclose()
        raise RuntimeError("generator didn't stop after throw()")


_NO_HOOK = _GeneratorHook(None, is_async=False)
