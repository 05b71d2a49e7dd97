from __future__ import annotations

from dataclasses import replace

import pytest

from services.execution.components import CATALOG
from services.execution.graph import GraphLimits
from services.execution.validation import GraphValidationError, validate_graph
from tests.execution.graphs import edge, example, graph, node


def refused(graph_value: object, limits: GraphLimits | None = None) -> str:
    with pytest.raises(GraphValidationError) as raised:
        if limits is None:
            validate_graph(graph_value, CATALOG)  # type: ignore[arg-type]
        else:
            validate_graph(graph_value, CATALOG, limits)  # type: ignore[arg-type]
    return raised.value.message


def chain() -> list[dict[str, object]]:
    return [node("idea", "initialPrompt", text="hi"), node("out", "textOutput")]


def test_valid_graph_gives_plan_in_topological_order() -> None:
    plan = validate_graph(
        graph(
            [node("out", "textOutput"), node("idea", "initialPrompt", text="hi")],
            [edge("idea", "out")],
        ),
        CATALOG,
    )
    assert list(plan.nodes) == ["idea", "out"]
    assert plan.nodes["idea"].downstream == ("out",)
    assert plan.nodes["out"].upstream == ("idea",)
    assert [e.source for e in plan.nodes["out"].inputs["text"]] == ["idea"]


def test_unknown_node_type_is_refused() -> None:
    message = refused(graph([node("x", "teleporter")]))
    assert message == "node 'x' has unknown type 'teleporter'"


def test_edge_to_missing_node_is_refused() -> None:
    message = refused(graph(chain(), [edge("idea", "ghost")]))
    assert message == "edge 'idea.text->ghost.text': target node 'ghost' does not exist"


def test_edge_from_missing_node_is_refused() -> None:
    message = refused(graph(chain(), [edge("ghost", "out")]))
    assert message == "edge 'ghost.text->out.text': source node 'ghost' does not exist"


def test_unknown_target_port_is_refused() -> None:
    message = refused(graph(chain(), [edge("idea", "out", "text", "words")]))
    assert message == (
        "edge 'idea.text->out.words': node 'out' (textOutput) has no input port 'words'; "
        "its input ports: text"
    )


def test_unknown_source_port_is_refused() -> None:
    message = refused(graph(chain(), [edge("idea", "out", "persona", "text")]))
    assert "node 'idea' (initialPrompt) has no output port 'persona'" in message


def test_missing_handle_defaults_to_the_only_port() -> None:
    plan = validate_graph(graph(chain(), [edge("idea", "out", None, None)]), CATALOG)
    assert plan.nodes["out"].inputs["text"][0].source_port == "text"


def test_missing_handle_with_several_ports_is_refused() -> None:
    nodes = [node("idea", "initialPrompt", text="hi"), node("story", "storyTeller")]
    message = refused(graph(nodes, [edge("idea", "story", "text", None)]))
    assert message == (
        "edge 'idea.text->story.None': targetHandle is missing and node 'story' (storyTeller) "
        "has 2 input ports (text, persona)"
    )


def test_port_kind_mismatch_is_refused() -> None:
    nodes = [node("mira", "consistentCharacter", name="Mira"), node("out", "textOutput")]
    message = refused(graph(nodes, [edge("mira", "out", "persona", "text")]))
    assert message == (
        "edge 'mira.persona->out.text' connects persona output mira.persona to text input "
        "out.text; the kinds must match"
    )


def test_single_input_port_with_several_edges_is_refused() -> None:
    nodes = [
        node("a", "initialPrompt", text="a"),
        node("b", "initialPrompt", text="b"),
        node("flux", "imageGenerator"),
    ]
    message = refused(graph(nodes, [edge("a", "flux"), edge("b", "flux")]))
    assert message == (
        "node 'flux': input port 'text' accepts one edge, got 2 "
        "(a.text->flux.text, b.text->flux.text)"
    )


def test_duplicate_node_id_is_refused() -> None:
    # parse_graph refuses duplicates too; a Graph built in code must not slip through.
    parsed = graph(chain())
    doubled = replace(parsed, nodes=(*parsed.nodes, parsed.nodes[0]))
    assert refused(doubled) == "duplicate node id 'idea'"


def test_duplicate_edge_id_is_refused() -> None:
    parsed = graph(chain(), [edge("idea", "out")])
    doubled = replace(parsed, edges=(*parsed.edges, parsed.edges[0]))
    assert refused(doubled) == "duplicate edge id 'idea.text->out.text'"


def test_missing_required_field_is_refused() -> None:
    message = refused(graph([node("idea", "initialPrompt", text="  ")]))
    assert message == "node 'idea' (initialPrompt): required field 'text' is missing"


def test_select_value_outside_options_is_refused() -> None:
    nodes = [
        node("idea", "initialPrompt", text="hi"),
        node("tr", "translator", targetLanguage="xx"),
    ]
    message = refused(graph(nodes, [edge("idea", "tr")]))
    assert message.startswith(
        "node 'tr' (translator): field 'targetLanguage' must be one of en, fr,"
    )
    assert message.endswith("and 22 more; got 'xx'")


def test_number_below_minimum_is_refused() -> None:
    message = refused(graph([node("c", "compressor", maxChars=0)]))
    assert message == "node 'c' (compressor): field 'maxChars' must be at least 1, got 0"


def test_number_above_maximum_is_refused() -> None:
    message = refused(graph([node("flux", "imageGenerator", steps=51)]))
    assert message == "node 'flux' (imageGenerator): field 'steps' must be at most 50, got 51"


def test_number_off_its_multiple_is_refused() -> None:
    message = refused(graph([node("flux", "imageGenerator", width=1000)]))
    assert (
        message == "node 'flux' (imageGenerator): field 'width' must be a multiple of 16, got 1000"
    )


def test_string_where_number_expected_is_refused() -> None:
    message = refused(graph([node("flux", "imageGenerator", steps="4")]))
    assert message == "node 'flux' (imageGenerator): field 'steps' must be a number, got '4'"


def test_text_over_its_length_limit_is_refused() -> None:
    message = refused(graph([node("out", "textOutput", label="x" * 201)]))
    assert (
        message == "node 'out' (textOutput): field 'label' is 201 characters long; the limit is 200"
    )


def test_unknown_model_override_provider_is_refused() -> None:
    nodes = [node("enh", "promptEnhancer", model={"provider": "skynet", "model": "t-800"})]
    message = refused(graph(nodes))
    assert message.startswith(
        "node 'enh' (promptEnhancer): field 'model' is not a valid model override: "
        "model.provider 'skynet' is not a known provider"
    )


def test_combobox_accepts_free_text() -> None:
    plan = validate_graph(graph([node("s", "sceneBuilder", setting="harbour town")]), CATALOG)
    assert "s" in plan.nodes


def test_cycle_is_refused_naming_every_node_on_it() -> None:
    message = refused(example("cycle-flow.json"))
    assert message == "the graph has a cycle: a -> b -> c -> a"


def test_self_loop_is_a_cycle() -> None:
    nodes = [node("g", "grammarFix")]
    assert refused(graph(nodes, [edge("g", "g")])) == "the graph has a cycle: g -> g"


def test_cycle_is_found_among_nodes_downstream_of_it() -> None:
    nodes = [node("a", "grammarFix"), node("b", "grammarFix"), node("out", "textOutput", x=-1)]
    edges = [edge("a", "b"), edge("b", "a"), edge("b", "out")]
    assert refused(graph(nodes, edges)) == "the graph has a cycle: a -> b -> a"


def test_too_many_nodes_is_refused() -> None:
    limits = GraphLimits(max_nodes=1, max_edges=10, max_text_length=100)
    assert refused(graph(chain()), limits) == "the graph has 2 nodes; the limit is 1"


def test_too_many_edges_is_refused() -> None:
    limits = GraphLimits(max_nodes=10, max_edges=0, max_text_length=100)
    message = refused(graph(chain(), [edge("idea", "out")]), limits)
    assert message == "the graph has 1 edges; the limit is 0"


def test_note_and_group_nodes_are_left_out_of_the_plan() -> None:
    nodes = [*chain(), node("memo", "note", text="remember"), node("frame", "group", label="G")]
    plan = validate_graph(graph(nodes, [edge("idea", "out")]), CATALOG)
    assert list(plan.nodes) == ["idea", "out"]
    assert plan.ignored == {"memo", "frame"}


def test_note_node_with_missing_fields_is_not_checked() -> None:
    plan = validate_graph(graph([node("memo", "note", text=42)]), CATALOG)
    assert plan.nodes == {}


def test_edge_to_a_note_is_refused() -> None:
    nodes = [*chain(), node("memo", "note")]
    message = refused(graph(nodes, [edge("idea", "memo")]))
    assert (
        message == "edge 'idea.text->memo.text': node 'memo' is a note, which takes no connections"
    )


def test_text_inputs_are_ordered_by_source_x_then_y_then_id() -> None:
    nodes = [
        node("low", "initialPrompt", text="1", x=0, y=100),
        node("right", "initialPrompt", text="2", x=50, y=0),
        node("high", "initialPrompt", text="3", x=0, y=0),
        node("b", "initialPrompt", text="4", x=0, y=0),
        node("out", "textOutput", x=300),
    ]
    edges = [edge(source, "out") for source in ("right", "low", "high", "b")]
    plan = validate_graph(graph(nodes, edges), CATALOG)
    assert [e.source for e in plan.nodes["out"].inputs["text"]] == ["b", "high", "low", "right"]


def test_plan_knows_each_nodes_descendants() -> None:
    nodes = [*chain(), node("fix", "grammarFix")]
    plan = validate_graph(graph(nodes, [edge("idea", "fix"), edge("fix", "out")]), CATALOG)
    assert plan.descendants("idea") == {"fix", "out"}
    assert plan.descendants("out") == set()
