from __future__ import annotations

import strawberry


@strawberry.type
class Health:
    status: str
    database: bool
    version: str


@strawberry.type(description="A model provider and whether this server has its key.")
class Provider:
    id: str
    name: str
    kind: str = strawberry.field(description="text or image.")
    available: bool
    default_model: str
