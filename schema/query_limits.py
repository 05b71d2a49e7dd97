"""Validation that bounds a document's cost before it runs, in time linear in the document.

Strawberry's QueryDepthLimiter and MaxAliasesLimiter walk every fragment spread anew, so
fragments that each spread the previous one twice take time exponential in their number: 39 of
them (1.6 KB) stalled the server for good. Here each fragment is measured once and its measure
reused at every spread. And graphql-core's check that same-named fields can merge compares them
pairwise: it is held to a budget of comparisons instead of its default, which takes seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from graphql import (
    GraphQLError,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    get_named_type,
    get_nullable_type,
    is_list_type,
    validate,
)
from graphql.language import (
    SKIP,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    IntValueNode,
    NamedTypeNode,
    NullValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VisitorAction,
)
from graphql.validation import (
    ASTValidationRule,
    OverlappingFieldsCanBeMergedRule,
    ValidationContext,
    ValidationRule,
    specified_rules,
)
from strawberry.schema.schema import validate_document

from schema.graphql_core_internals import ValidationAbortedError, merge_budget_left, set_merge_budget
from services.platform.pagination import DEFAULT_PAGE_SIZE
from services.platform.settings import Limits


@dataclass(frozen=True)
class ValidationRules:
    # Checked first, alone: a hostile document is refused before the other rules walk it (on
    # 5,000-token documents they take three to four times as long as these).
    bounds: tuple[type[ASTValidationRule], ...]
    # graphql-core's other rules (its merge check is among the bounds).
    others: tuple[type[ASTValidationRule], ...]


def validation_rules(limits: Limits) -> ValidationRules:
    return ValidationRules(
        bounds=(query_limits_rule(limits), bounded_merge_rule(limits.max_query_field_comparisons)),
        others=tuple(rule for rule in specified_rules if rule is not OverlappingFieldsCanBeMergedRule),
    )


def validate_query(schema: GraphQLSchema, document: DocumentNode, rules: ValidationRules) -> list[GraphQLError]:
    # Strawberry's validate_document adds its own rules (oneOf inputs, Maybe) to the others.
    return validate(schema, document, rules.bounds) or validate_document(schema, document, rules.others)


# --- depth, aliases and cost --------------------------------------------------------------------


@dataclass(frozen=True)
class Measure:
    # Fields with a selection nested in one another (introspection not counted): what
    # Strawberry's QueryDepthLimiter counted, so `{ health { status } }` is 1 deep.
    depth: int
    aliases: int
    # Each field costs 1; a list, or a page of a connection, multiplies the cost of what it
    # selects by its size (at least 1). So the cost is at least the number of fields the
    # operation asks for with every fragment spread expanded.
    cost: int

    def beside(self, other: Measure) -> Measure:
        return Measure(max(self.depth, other.depth), self.aliases + other.aliases, self.cost + other.cost)


NOTHING = Measure(depth=0, aliases=0, cost=0)


def query_limits_rule(limits: Limits) -> type[ValidationRule]:
    class QueryLimitsRule(ValidationRule):
        def enter_document(self, node: DocumentNode, *_args: Any) -> VisitorAction:
            measurer = Measurer(self.context.schema, node, max_page_size=limits.max_page_size)
            errors = [
                error
                for definition in node.definitions
                if isinstance(definition, OperationDefinitionNode)
                for error in limit_errors(definition, measurer.operation(definition), limits)
            ]
            if errors:
                # Refused: the merge check need not walk the document.
                for error in errors[:-1]:
                    self.report_error(error)
                raise ValidationAbortedError(errors[-1].message, errors[-1].nodes)
            return SKIP

    return QueryLimitsRule


def limit_errors(operation: OperationDefinitionNode, measure: Measure, limits: Limits) -> list[GraphQLError]:
    name = operation.name.value if operation.name else "anonymous"
    checks = [
        ("depth", measure.depth, limits.max_query_depth, "MAX_QUERY_DEPTH", "nest fewer fields"),
        ("alias count", measure.aliases, limits.max_query_aliases, "MAX_QUERY_ALIASES", "use fewer aliases"),
        ("cost", measure.cost, limits.max_query_cost, "MAX_QUERY_COST", "ask for fewer fields or smaller pages"),
    ]
    return [
        GraphQLError(
            f"Operation '{name}': {what} {value} is over the limit of {limit} ({setting}); {advice}.",
            [operation],
        )
        for what, value, limit, setting, advice in checks
        if value > limit
    ]


class Measurer:
    """Measures the operations of one document, each fragment once."""

    def __init__(self, schema: GraphQLSchema, document: DocumentNode, *, max_page_size: int) -> None:
        self.schema = schema
        self.max_page_size = max_page_size
        self.fragments = {
            definition.name.value: definition
            for definition in document.definitions
            if isinstance(definition, FragmentDefinitionNode)
        }
        self.measured: dict[str, Measure] = {}

    def operation(self, operation: OperationDefinitionNode) -> Measure:
        return self.selections(operation.selection_set, self.schema.get_root_type(operation.operation))

    def selections(self, selection_set: SelectionSetNode, parent: GraphQLNamedType | None) -> Measure:
        total = NOTHING
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                total = total.beside(self.field(selection, parent))
            elif isinstance(selection, FragmentSpreadNode):
                total = total.beside(self.fragment(selection.name.value))
            elif isinstance(selection, InlineFragmentNode):
                condition = self.named_type(selection.type_condition) if selection.type_condition else parent
                total = total.beside(self.selections(selection.selection_set, condition))
        return total

    def fragment(self, name: str) -> Measure:
        if name not in self.measured:
            # An unknown fragment, or one spread inside itself, adds nothing here: other rules
            # refuse the document for it.
            self.measured[name] = NOTHING
            definition = self.fragments.get(name)
            if definition is not None:
                condition = self.named_type(definition.type_condition)
                self.measured[name] = self.selections(definition.selection_set, condition)
        return self.measured[name]

    def field(self, node: FieldNode, parent: GraphQLNamedType | None) -> Measure:
        aliases = 1 if node.alias else 0
        if node.selection_set is None:
            return Measure(depth=0, aliases=aliases, cost=1)
        definition = field_definition(parent, node.name.value)
        inner = self.selections(node.selection_set, get_named_type(definition.type) if definition else None)
        # Introspection is bounded by the schema (and graphql-core's MaxIntrospectionDepthRule).
        introspection = node.name.value.startswith("__")
        return Measure(
            depth=0 if introspection else inner.depth + 1,
            aliases=inner.aliases + aliases,
            cost=1 + self.multiplier(node, definition, parent) * inner.cost,
        )

    def multiplier(self, node: FieldNode, definition: GraphQLField | None, parent: GraphQLNamedType | None) -> int:
        if definition is None:
            return 1
        if "first" in definition.args:
            return self.page_size(node)
        # A connection's `nodes` and `edges` are its page, already counted by the field above.
        if is_list_type(get_nullable_type(definition.type)) and not is_connection(parent):
            return DEFAULT_PAGE_SIZE
        return 1

    def page_size(self, node: FieldNode) -> int:
        first = next((argument.value for argument in node.arguments or () if argument.name.value == "first"), None)
        if first is None or isinstance(first, NullValueNode):
            return DEFAULT_PAGE_SIZE
        if isinstance(first, IntValueNode) and len(first.value) <= 9:
            return min(max(int(first.value), 1), self.max_page_size)
        # A variable (unknown until the request runs), or a number the resolver refuses.
        return self.max_page_size

    def named_type(self, node: NamedTypeNode) -> GraphQLNamedType | None:
        return self.schema.get_type(node.name.value)


def field_definition(parent: GraphQLNamedType | None, name: str) -> GraphQLField | None:
    if isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
        return parent.fields.get(name)
    return None


def is_connection(type_: GraphQLNamedType | None) -> bool:
    return isinstance(type_, GraphQLObjectType) and "pageInfo" in type_.fields


# --- fields that merge --------------------------------------------------------------------------


def bounded_merge_rule(budget: int) -> type[ValidationRule]:
    """graphql-core's OverlappingFieldsCanBeMergedRule, aborting after `budget` units of work.

    It compares the fields that share a response name pairwise (two units a pair), which grows
    with the square of their number: 1,240 copies of `health { status }` took seconds under its
    default budget of 500,000. Real queries need a few hundred units at most (the test suite's
    and the docs': 117 at most).
    """

    class BoundedMergeRule(OverlappingFieldsCanBeMergedRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            set_merge_budget(self, budget)

        def enter_selection_set(self, selection_set: SelectionSetNode, key: Any, parent: Any, *args: Any) -> None:
            try:
                super().enter_selection_set(selection_set, key, parent, *args)
            except ValidationAbortedError:
                if merge_budget_left(self) >= 0:
                    raise  # aborted for another reason: too many errors
                raise ValidationAbortedError(
                    f"Checking that fields of the same name can merge needs over {budget} comparisons "
                    "(MAX_QUERY_FIELD_COMPARISONS): ask for each field once."
                ) from None

    return BoundedMergeRule
