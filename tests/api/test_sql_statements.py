"""Nested lists cost a constant number of SQL statements (DataLoaders)."""

from __future__ import annotations

from starlette.applications import Starlette

from tests.api.statements import count_statements
from tests.graphql_client import Account, GraphQLClient

NESTED = """
{ projects(first: 100) { nodes { name owner { username }
    flows { name owner { username } project { name } }
    characters { name owner { username } } } } }
"""
EMPTY_GRAPH = {"nodes": [], "edges": [], "viewport": {"x": 0, "y": 0, "zoom": 1}}


async def add_projects(api: GraphQLClient, owner: Account, count: int) -> None:
    for index in range(count):
        project = (
            await api.execute(
                'mutation($n: String!) { createProject(input: {name: $n}) { id } }',
                {"n": f"project {index}"},
                token=owner.access_token,
            )
        ).ok()["createProject"]
        for kind, mutation in (
            ("flow", "createFlow(input: {projectId: $p, name: $n, graphData: $g}) { id }"),
            ("character", "createCharacter(input: {projectId: $p, name: $n}) { id }"),
        ):
            variables = {"p": project["id"], "n": f"{kind} {index}"}
            if kind == "flow":
                text = f"mutation($p: ID!, $n: String!, $g: JSON) {{ {mutation} }}"
                variables["g"] = EMPTY_GRAPH
            else:
                text = f"mutation($p: ID!, $n: String!) {{ {mutation} }}"
            (await api.execute(text, variables, token=owner.access_token)).ok()


async def statements_for_nested_query(api: GraphQLClient, app: Starlette, owner: Account) -> int:
    with count_statements(app) as statements:
        (await api.execute(NESTED, token=owner.access_token)).ok()
    return len(statements)


async def test_nested_projects_query_costs_the_same_statements_for_1_and_50_projects(
    api: GraphQLClient, app: Starlette
) -> None:
    alice = await api.signup("alice")
    await add_projects(api, alice, 1)
    with_one = await statements_for_nested_query(api, app, alice)
    await add_projects(api, alice, 49)
    with_fifty = await statements_for_nested_query(api, app, alice)
    assert with_one == with_fifty
    # Authentication, page, count, then one statement per kind of related object.
    assert with_fifty <= 8


async def test_flow_lists_leave_graphs_out_unless_asked_for(api: GraphQLClient, app: Starlette) -> None:
    alice = await api.signup("alice")
    await add_projects(api, alice, 3)
    with count_statements(app) as without_graphs:
        (await api.execute("{ flows { nodes { name } } }", token=alice.access_token)).ok()
    with count_statements(app) as with_graphs:
        listed = (await api.execute("{ flows { nodes { name graphData } } }", token=alice.access_token)).ok()
    assert not any("graph_data" in statement for statement in without_graphs)
    assert len(with_graphs) == len(without_graphs) + 1
    assert [flow["graphData"] for flow in listed["flows"]["nodes"]] == [EMPTY_GRAPH] * 3
