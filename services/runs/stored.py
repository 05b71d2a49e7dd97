"""Stored runs, read through their owner: one run, or a page of them."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Run
from db.repositories.runs import RunRepository
from services.accounts.actors import Actor
from services.errors import NotFound
from services.platform.input_checks import parse_uuid
from services.platform.pagination import Page, PageRequest
from services.projects.flows import get_flow


async def get_run(session: AsyncSession, actor: Actor, run_id: str) -> Run:
    run = await RunRepository(session).get(parse_uuid("run", run_id), owner_id=actor.owner_filter)
    if run is None:
        raise NotFound("run", run_id)
    return run


async def list_runs(
    session: AsyncSession, actor: Actor, request: PageRequest, *, flow_id: str | None
) -> Page[Run]:
    flow = await get_flow(session, actor, flow_id) if flow_id is not None else None
    rows = await RunRepository(session).page(
        owner_id=actor.owner_filter,
        flow_id=flow.id if flow else None,
        offset=request.offset,
        limit=request.limit,
    )
    return Page.from_rows(rows)
