"""The one Strawberry schema: every operation of the API, mapped to its resolver."""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, Callable
from typing import Any

import strawberry
from graphql import GraphQLError
from opentelemetry.trace import TracerProvider
from strawberry.extensions import SchemaExtension
from strawberry.extensions.runner import SchemaExtensionsRunner
from strawberry.extensions.tracing import OpenTelemetryExtension
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext

import resolvers.auth
import resolvers.catalog
import resolvers.characters
import resolvers.events
import resolvers.flows
import resolvers.projects
import resolvers.runs
import resolvers.system
import resolvers.users
from schema.execution import EventExecutor, KnownPlans, OperationHooks
from schema.extensions import HookKinds, OperationLifecycle, Validation, ValidDocuments
from schema.query_limits import validation_rules
from schema.types.accounts import AuthPayload, BackofficeUser, User
from schema.types.components import Component
from schema.types.events import EventLog, Notification
from schema.types.pagination import Connection
from schema.types.projects import Character, Flow, Project
from schema.types.runs import RUN_EVENT_TYPES, Run, RunEvent
from schema.types.system import Health, Provider
from services.platform.metrics import Metrics
from services.platform.settings import Limits

logger = logging.getLogger(__name__)


@strawberry.type
class Query:
    health: Health = strawberry.field(resolver=resolvers.system.health)
    providers: list[Provider] = strawberry.field(resolver=resolvers.system.providers)
    me: User = strawberry.field(resolver=resolvers.users.me)
    user: User = strawberry.field(resolver=resolvers.users.user)
    projects: Connection[Project] = strawberry.field(resolver=resolvers.projects.list_projects)
    project: Project = strawberry.field(resolver=resolvers.projects.project)
    components: list[Component] = strawberry.field(resolver=resolvers.catalog.components)
    component: Component = strawberry.field(resolver=resolvers.catalog.component)
    flows: Connection[Flow] = strawberry.field(resolver=resolvers.flows.list_flows)
    flow: Flow = strawberry.field(resolver=resolvers.flows.flow)
    characters: Connection[Character] = strawberry.field(resolver=resolvers.characters.list_characters)
    character: Character = strawberry.field(resolver=resolvers.characters.character)
    events: Connection[EventLog] = strawberry.field(resolver=resolvers.events.events)
    runs: Connection[Run] = strawberry.field(resolver=resolvers.runs.list_runs)
    run: Run = strawberry.field(resolver=resolvers.runs.run)


@strawberry.type
class Mutation:
    signup: AuthPayload = strawberry.mutation(resolver=resolvers.auth.signup)
    login: AuthPayload = strawberry.mutation(resolver=resolvers.auth.login)
    refresh_token: AuthPayload = strawberry.mutation(resolver=resolvers.auth.refresh_token)
    logout: bool = strawberry.mutation(resolver=resolvers.auth.logout)
    delete_user: bool = strawberry.mutation(resolver=resolvers.users.delete_user)
    create_backoffice_user: BackofficeUser = strawberry.mutation(resolver=resolvers.auth.create_backoffice_user)
    backoffice_login: AuthPayload = strawberry.mutation(resolver=resolvers.auth.backoffice_login)
    create_project: Project = strawberry.mutation(resolver=resolvers.projects.create_project)
    update_project: Project = strawberry.mutation(resolver=resolvers.projects.update_project)
    delete_project: bool = strawberry.mutation(resolver=resolvers.projects.delete_project)
    create_flow: Flow = strawberry.mutation(resolver=resolvers.flows.create_flow)
    update_flow: Flow = strawberry.mutation(resolver=resolvers.flows.update_flow)
    delete_flow: bool = strawberry.mutation(resolver=resolvers.flows.delete_flow)
    create_character: Character = strawberry.mutation(resolver=resolvers.characters.create_character)
    update_character: Character = strawberry.mutation(resolver=resolvers.characters.update_character)
    delete_character: bool = strawberry.mutation(resolver=resolvers.characters.delete_character)
    start_run: Run = strawberry.mutation(resolver=resolvers.runs.start_run)
    cancel_run: Run = strawberry.mutation(resolver=resolvers.runs.cancel_run)


@strawberry.type
class Subscription:
    run_flow: AsyncGenerator[RunEvent, None] = strawberry.subscription(resolver=resolvers.runs.run_flow)
    run_events: AsyncGenerator[RunEvent, None] = strawberry.subscription(
        resolver=resolvers.runs.run_events
    )
    notifications: AsyncGenerator[Notification, None] = strawberry.subscription(
        resolver=resolvers.events.notifications
    )


class AppSchema(strawberry.Schema):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The kinds of its extensions' hooks, found once (schema.extensions.HookKinds).
        self.hook_kinds = HookKinds()

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        # Client mistakes are answered, not logged as server errors; OperationLifecycle logs the
        # unexpected ones with their traceback.
        for error in errors:
            logger.debug("graphql error", extra={"error": error.message, "path": error.path})

    def create_extensions_runner(
        self, execution_context: ExecutionContext, extensions: list[SchemaExtension]
    ) -> SchemaExtensionsRunner:
        return OperationHooks(execution_context, extensions, self.hook_kinds)


def build_schema(
    limits: Limits | None = None, *, metrics: Metrics | None = None, tracer_provider: TracerProvider | None = None
) -> AppSchema:
    """`metrics`: where its operations are counted (the app's backend's; by default its own);
    `tracer_provider`: where their spans go (by default none)."""
    limits = limits or Limits()
    metrics = metrics or Metrics()
    # The rules are built once: a query text that passed them passes again, so the texts that
    # passed, like the rules, belong to this schema.
    rules = validation_rules(limits)
    valid = ValidDocuments()
    observers: list[type[SchemaExtension] | Callable[[], SchemaExtension]] = []
    if tracer_provider is not None:
        observers.append(lambda: OpenTelemetryExtension(tracer_provider=tracer_provider))
    return AppSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        # Tracing sees each operation whole; OperationLifecycle does the rest (metrics, the
        # transaction, error codes, validation) in one extension.
        extensions=[
            *observers,
            lambda: OperationLifecycle(
                Validation(rules, valid, max_tokens=limits.max_query_tokens, max_json_depth=limits.max_json_depth),
                metrics,
            ),
        ],
        config=StrawberryConfig(disable_field_suggestions=True),
        # Executes a subscription's events with the selection worked out once, and plans of
        # this schema's own (schema.execution).
        execution_context_class=EventExecutor.for_schema(KnownPlans()),
        # Event types appear in the schema only through the RunEvent interface.
        types=RUN_EVENT_TYPES,
    )
