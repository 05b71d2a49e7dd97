from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select

from db.models import (
    Component,
    ComponentApiConfig,
    ComponentField,
    ComponentOutputSchema,
    ComponentPort,
)
from db.repositories.base import Repository


class ComponentRepository(Repository):
    async def list_all(self) -> Sequence[Component]:
        statement = select(Component).order_by(Component.order, Component.type)
        return (await self.session.scalars(statement)).all()

    async def fields_for(self, component_ids: Sequence[uuid.UUID]) -> Sequence[ComponentField]:
        statement = (
            select(ComponentField)
            .where(ComponentField.component_id.in_(component_ids))
            .order_by(ComponentField.order)
        )
        return (await self.session.scalars(statement)).all()

    async def ports_for(self, component_ids: Sequence[uuid.UUID]) -> Sequence[ComponentPort]:
        statement = (
            select(ComponentPort)
            .where(ComponentPort.component_id.in_(component_ids))
            .order_by(ComponentPort.order)
        )
        return (await self.session.scalars(statement)).all()

    async def api_configs_for(
        self, component_ids: Sequence[uuid.UUID]
    ) -> Sequence[ComponentApiConfig]:
        statement = select(ComponentApiConfig).where(
            ComponentApiConfig.component_id.in_(component_ids)
        )
        return (await self.session.scalars(statement)).all()

    async def output_schemas_for(
        self, component_ids: Sequence[uuid.UUID]
    ) -> Sequence[ComponentOutputSchema]:
        statement = select(ComponentOutputSchema).where(
            ComponentOutputSchema.component_id.in_(component_ids)
        )
        return (await self.session.scalars(statement)).all()
