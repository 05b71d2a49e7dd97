"""What the GraphQL layer takes from graphql-core beyond its documented API, in one place.

The names below come from modules graphql-core does not export at its top level; the methods
schema.execution.EventExecutor overrides or calls are marked `:meta private:` in its executor.
tests/test_library_internals.py fails, naming graphql-core's version, when an upgrade changes
one of these facts:

- The executor (`Executor`, Strawberry's subclass of its IncrementalExecutor) has the methods
  and signatures in EVENT_EXECUTOR_METHODS. Each subscription event is executed on
  `build_per_event_executor(payload)`: a shallow copy with the event as `root_value` and errors of
  its own (EventExecutor makes the copy itself, without copy's generic protocol).
- `collect_subfields` memoizes in `_relevant_sub_fields`, keyed by the identity of the collected
  field lists and shared by the per-event copies: EventExecutor keeps the first event's root
  fields so that the memo hits for the next ones (graphql-core collects them anew each time).
- OverlappingFieldsCanBeMergedRule counts its work down in `rule_context.
  remaining_complexity_budget` and aborts below zero (schema.query_limits sets the budget).

What would replace them: graphql-js memoizes collected sub-fields across executors since
graphql/graphql-js#4548; once graphql-core ports it, the kept root fields can go (the leaf plans
stay: they skip graphql-core's per-field work). The merge rule's budget has no public setter
(its default comes from `get_complexity_budget`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from graphql.execution.collect_fields import DeferUsage, FieldDetailsList, GroupedFieldSet
from graphql.execution.executor import CollectedErrors, to_nodes
from graphql.execution.incremental.incremental_executor import DeliveryGroupMap
from graphql.validation import OverlappingFieldsCanBeMergedRule
from graphql.validation.validate import ValidationAbortedError

__all__ = [
    "EVENT_EXECUTOR_METHODS",
    "CollectedErrors",
    "DeferUsage",
    "DeliveryGroupMap",
    "FieldDetailsList",
    "GroupedFieldSet",
    "ValidationAbortedError",
    "collected_sub_fields",
    "merge_budget_left",
    "set_merge_budget",
    "to_nodes",
]

# The executor's methods EventExecutor overrides or calls, with their parameters.
EVENT_EXECUTOR_METHODS: dict[str, tuple[str, ...]] = {
    "build_per_event_executor": ("self", "payload"),
    "execute_operation": ("self", "serially"),
    "execute_collected_root_fields": (
        "self", "root_type", "root_value", "grouped_field_set", "serially", "new_defer_usages",
    ),
    "execute_collected_subfields": (
        "self", "parent_type", "source_value", "path", "grouped_field_set", "new_defer_usages", "delivery_group_map",
    ),
    "collect_subfields": ("self", "return_type", "field_details_list"),
    "build_resolve_info": ("self", "field_def", "field_nodes", "parent_type", "path"),
    "ensure_valid_runtime_type": (
        "self", "runtime_type_name", "return_type", "field_details_list", "info", "result",
    ),
    "build_response": ("self", "data"),
    "finish": ("self", "result"),
}


def collected_sub_fields(executor: Any) -> Mapping[Any, Any]:
    """The executor's memo of collected sub-fields (what a subscription keeps for its life)."""
    memo: Mapping[Any, Any] = executor._relevant_sub_fields
    return memo


def set_merge_budget(rule: OverlappingFieldsCanBeMergedRule, budget: int) -> None:
    """The units of work the merge rule may do on one document before it aborts."""
    rule.rule_context.remaining_complexity_budget = budget


def merge_budget_left(rule: OverlappingFieldsCanBeMergedRule) -> int:
    """Below zero once the rule aborted for having spent its budget."""
    left: int = rule.rule_context.remaining_complexity_budget
    return left
