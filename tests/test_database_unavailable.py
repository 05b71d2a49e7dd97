"""A database that refuses to serve (too many clients) is reported as UNAVAILABLE, not INTERNAL."""

from __future__ import annotations

import uuid

import pytest
from graphql.error import GraphQLError
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from db.engine import create_engine
from schema.errors import coded_or_masked
from services.platform.database_unavailable import database_unavailable

pytestmark = pytest.mark.postgresql_only


async def too_many_clients_error(database_url: str, engine: AsyncEngine) -> DBAPIError:
    """The error PostgreSQL gives past a connection limit (SQLSTATE 53300), for real: a role
    allowed no connection at all."""
    role = f"limited_{uuid.uuid4().hex[:8]}"
    async with engine.begin() as connection:
        await connection.execute(text(f"CREATE ROLE {role} LOGIN CONNECTION LIMIT 0"))
    limited = create_engine(make_url(database_url).set(username=role).render_as_string(hide_password=False))
    try:
        async with limited.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except DBAPIError as error:
        return error
    finally:
        await limited.dispose()
        async with engine.begin() as connection:
            await connection.execute(text(f"DROP ROLE {role}"))
    raise AssertionError("the limited role connected")


async def test_too_many_clients_is_unavailable(database_url: str, engine: AsyncEngine) -> None:
    error = await too_many_clients_error(database_url, engine)

    assert database_unavailable(error) is not None


async def test_a_resolver_meeting_too_many_clients_answers_unavailable(database_url: str, engine: AsyncEngine) -> None:
    error = await too_many_clients_error(database_url, engine)

    coded = coded_or_masked(GraphQLError("boom", original_error=error))

    assert coded.extensions == {"code": "UNAVAILABLE"}
    assert "try again" in coded.message


def test_other_errors_are_not_taken_for_an_unavailable_database() -> None:
    assert database_unavailable(ValueError("bad")) is None
