from __future__ import annotations

from datetime import datetime
from typing import Self

import strawberry
from strawberry.scalars import JSON

from services.events.bus import DomainEvent


@strawberry.type(description="A domain event: project.created, flow.updated, ...")
class EventLog:
    id: strawberry.ID
    event_name: str
    payload: JSON
    project_id: strawberry.ID | None
    session_id: str | None
    created_at: datetime

    @classmethod
    def from_event(cls, event: DomainEvent) -> Self:
        return cls(
            id=strawberry.ID(str(event.id)),
            event_name=event.name,
            payload=JSON(dict(event.payload)),
            project_id=None if event.project_id is None else strawberry.ID(str(event.project_id)),
            session_id=event.session_id,
            created_at=event.created_at,
        )


@strawberry.type(description="A domain event delivered live, as it is committed.")
class Notification(EventLog):
    pass
