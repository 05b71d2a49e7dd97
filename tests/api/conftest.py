"""Fixtures most API tests share: a signed-up user and a project of hers."""

from __future__ import annotations

import pytest

from tests.graphql_client import Account, GraphQLClient


@pytest.fixture
async def alice(api: GraphQLClient) -> Account:
    return await api.signup("alice")


@pytest.fixture
async def project(api: GraphQLClient, alice: Account) -> str:
    return await api.create_project(alice)
