"""Documents that stalled validation, each within the body and token limits; shared by
tests/api/test_query_cost.py and benchmarks/query_validation.py."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Attack:
    name: str
    # The operation, without its `query` keyword and name (a benchmark names each copy apart so
    # that the validation cache cannot answer it), and the fragments it spreads.
    selection: str
    fragments: str
    # The setting the refusal names.
    limit: str

    def document(self, operation_name: str = "") -> str:
        head = f"query {operation_name} " if operation_name else ""
        return f"{self.fragments} {head}{self.selection}".strip()


def doubling_fragments(levels: int, *, on: str = "Health", field: str = "status") -> str:
    """F0 selects one field; each next fragment spreads the previous one twice."""
    fragments = [f"fragment F0 on {on} {{ {field} }}"] + [
        f"fragment F{level} on {on} {{ ...F{level - 1} ...F{level - 1} }}" for level in range(1, levels + 1)
    ]
    return " ".join(fragments)


ATTACKS = [
    # 763 bytes: blocked the event loop for seconds.
    Attack("fragments doubling 18 times", "{ health { ...F18 } }", doubling_fragments(18), "MAX_QUERY_COST"),
    # 1.6 KB: the server never answered anyone again.
    Attack("fragments doubling 39 times", "{ health { ...F39 } }", doubling_fragments(39), "MAX_QUERY_COST"),
    # 17 KB: about 4 s in graphql-core's overlapping-fields check.
    Attack("same field 1,240 times", "{ " + "health { status } " * 1_240 + "}", "", "MAX_QUERY_FIELD_COMPARISONS"),
    Attack("wide, at the token limit", "{ health { " + "status " * 4_990 + "} }", "", "MAX_QUERY_FIELD_COMPARISONS"),
    Attack(
        "same field in 196 groups of 14",
        "{ " + ("health { " + "status " * 14 + "} ") * 14 * 14 + "}",
        "",
        "MAX_QUERY_FIELD_COMPARISONS",
    ),
    Attack(
        "500 fragments spread together",
        "{ health { " + " ".join(f"...S{i}" for i in range(500)) + " } }",
        " ".join(f"fragment S{i} on Health {{ status }}" for i in range(500)),
        "MAX_QUERY_FIELD_COMPARISONS",
    ),
    Attack(
        "nested 182 deep",
        "{ projects { nodes { " + "flows { project { " * 90 + "id" + " } }" * 90 + " } } }",
        "",
        "MAX_QUERY_DEPTH",
    ),
    Attack(
        "800 aliases",
        "{ " + " ".join(f"h{i}: health {{ status }}" for i in range(800)) + " }",
        "",
        "MAX_QUERY_ALIASES",
    ),
]
