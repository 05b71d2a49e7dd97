"""DataLoaders answer each key on its own: a missing row fails its key, not the batch."""

from __future__ import annotations

import asyncio
import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from db.loaders import Loaders, RowGone
from db.models import Flow, Project, User


async def a_flow(session: AsyncSession) -> Flow:
    user = User(email="loader@example.com", username="loader", password_hash="x")
    session.add(user)
    await session.flush()
    project = Project(user_id=user.id, name="P")
    session.add(project)
    await session.flush()
    flow = Flow(user_id=user.id, project_id=project.id, name="F", graph_data={"nodes": [], "edges": []})
    session.add(flow)
    await session.flush()
    return flow


async def test_a_graph_whose_flow_is_gone_fails_alone_in_its_batch(session: AsyncSession) -> None:
    flow = await a_flow(session)
    loader = Loaders(session).flow_graph
    gone = uuid.uuid4()
    results: list[object] = await asyncio.gather(loader.load(flow.id), loader.load(gone), return_exceptions=True)
    found, missing = results
    assert found == {"nodes": [], "edges": []}
    assert isinstance(missing, RowGone) and missing.key == gone


async def test_rows_by_id_load_none_for_a_missing_key_and_the_row_for_the_others(session: AsyncSession) -> None:
    flow = await a_flow(session)
    loader = Loaders(session).user
    found, missing = await asyncio.gather(loader.load(flow.user_id), loader.load(flow.user_id + 1000))
    assert found is not None and found.username == "loader"
    assert missing is None
