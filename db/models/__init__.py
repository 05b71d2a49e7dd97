"""Every table, importable from one place (Alembic reads `Base.metadata` through it)."""

from db.base import Base
from db.models.components import (
    Component,
    ComponentApiConfig,
    ComponentField,
    ComponentOutputSchema,
    ComponentPort,
)
from db.models.events import EventLog
from db.models.projects import Character, Flow, Project
from db.models.runs import Run, RunNodeResult, RunStatus
from db.models.users import BackofficeUser, RefreshToken, User

__all__ = [
    "Component",
    "BackofficeUser",
    "Base",
    "ComponentApiConfig",
    "ComponentField",
    "ComponentOutputSchema",
    "ComponentPort",
    "Character",
    "EventLog",
    "Flow",
    "Project",
    "RefreshToken",
    "Run",
    "RunNodeResult",
    "RunStatus",
    "User",
]
