"""The component catalog: one row per node type, with its fields, ports, API config and output schema."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Float, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, JSONDocument


class Component(Base):
    """One entry of the catalog (GraphQL `Component`), as seeded from the engine's catalog
    (services/execution/components.py); the tables keep the original design's names."""

    __tablename__ = "agentic_components"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    type: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    category: Mapped[str] = mapped_column(String(32))
    description: Mapped[str] = mapped_column(Text, default="")
    icon: Mapped[str] = mapped_column(String(64), default="")
    order: Mapped[int] = mapped_column(default=0)
    is_executable: Mapped[bool] = mapped_column(default=True)


class ComponentField(Base):
    __tablename__ = "component_fields"
    __table_args__ = (UniqueConstraint("component_id", "key"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    component_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("agentic_components.id", ondelete="CASCADE"), index=True
    )
    key: Mapped[str] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(32))
    default: Mapped[Any | None] = mapped_column(JSONDocument)
    options: Mapped[list[Any] | None]
    required: Mapped[bool] = mapped_column(default=False)
    validation: Mapped[dict[str, Any] | None]
    order: Mapped[int] = mapped_column(default=0)


class ComponentPort(Base):
    """A handle on a node. `key` is the handle id the editor puts in edges."""

    __tablename__ = "component_ports"
    __table_args__ = (UniqueConstraint("component_id", "direction", "key"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    component_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("agentic_components.id", ondelete="CASCADE"), index=True
    )
    key: Mapped[str] = mapped_column(String(64))
    direction: Mapped[str] = mapped_column(String(8))
    kind: Mapped[str] = mapped_column(String(16))
    multiple: Mapped[bool] = mapped_column(default=False)
    label: Mapped[str] = mapped_column(String(100))
    order: Mapped[int] = mapped_column(default=0)


class ComponentApiConfig(Base):
    __tablename__ = "component_api_config"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    component_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("agentic_components.id", ondelete="CASCADE"), unique=True
    )
    provider_call: Mapped[str] = mapped_column(String(16))
    provider_kind: Mapped[str | None] = mapped_column(String(16))
    default_provider: Mapped[str | None] = mapped_column(String(32))
    default_model: Mapped[str | None] = mapped_column(String(200))
    temperature: Mapped[float | None] = mapped_column(Float)
    prompt_id: Mapped[str | None] = mapped_column(String(64))


class ComponentOutputSchema(Base):
    __tablename__ = "component_output_schema"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    component_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("agentic_components.id", ondelete="CASCADE"), unique=True
    )
    json_schema: Mapped[dict[str, Any]]
