"""Relay connections: edges { cursor node }, nodes, pageInfo, totalCount."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

import strawberry

from services.platform.pagination import Page

Node = TypeVar("Node")
Item = TypeVar("Item")


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type
class Edge(Generic[Node]):
    cursor: str
    node: Node


@strawberry.type
class Connection(Generic[Node]):
    edges: list[Edge[Node]]
    nodes: list[Node]
    page_info: PageInfo
    _count: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field(description="How many items there are in all (counted only when asked for).")
    async def total_count(self) -> int:
        return await self._count()

    @classmethod
    def of(cls, page: Page[Item], to_node: Callable[[Item], Node]) -> Connection[Node]:
        nodes = [to_node(item) for item in page.items]
        cursors = [page.cursor(index) for index in range(len(nodes))]
        return cls(
            edges=[Edge(cursor=cursor, node=node) for cursor, node in zip(cursors, nodes, strict=True)],
            nodes=nodes,
            page_info=PageInfo(
                has_next_page=page.has_next_page,
                has_previous_page=page.offset > 0,
                start_cursor=cursors[0] if cursors else None,
                end_cursor=cursors[-1] if cursors else None,
            ),
            _count=page.count,
        )
