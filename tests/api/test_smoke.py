from tests.graphql_client import GraphQLClient


async def test_health_reports_the_database_up(api: GraphQLClient) -> None:
    result = await api.execute("{ health { status database version } }")
    assert result.ok()["health"] == {"status": "ok", "database": True, "version": "0.1.0"}


async def test_signed_up_user_creates_and_reads_a_project(api: GraphQLClient) -> None:
    alice = await api.signup("alice")
    created = (
        await api.execute(
            'mutation { createProject(input: {name: "Atlas"}) { id name owner { username } } }',
            token=alice.access_token,
        )
    ).ok()["createProject"]
    assert created["owner"]["username"] == "alice"
    listed = (await api.execute("{ projects { totalCount nodes { name } } }", token=alice.access_token)).ok()
    assert listed["projects"] == {"totalCount": 1, "nodes": [{"name": "Atlas"}]}


async def test_graphiql_is_served_to_a_browser(api: GraphQLClient) -> None:
    response = await api.http.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert "graphiql" in response.text.lower()


async def test_the_root_redirects_to_graphiql(api: GraphQLClient) -> None:
    response = await api.http.get("/")
    assert response.status_code in (302, 307)
    assert response.headers["location"].endswith("/graphql")
