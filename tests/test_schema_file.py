from pathlib import Path

from cli.commands import schema_sdl

SCHEMA_FILE = Path(__file__).resolve().parent.parent / "schema.graphql"


def test_committed_schema_matches_the_live_schema() -> None:
    assert SCHEMA_FILE.read_text() == schema_sdl(), (
        "schema.graphql is out of date: run `uv run main.py export-schema` and commit it"
    )
