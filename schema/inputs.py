"""Mutation inputs. Optional members left out (UNSET) leave a value unchanged."""

from __future__ import annotations

import strawberry
from strawberry.scalars import JSON


@strawberry.input
class SignupInput:
    email: str
    username: str
    password: str


@strawberry.input
class LoginInput:
    identifier: str = strawberry.field(description="Email or username.")
    password: str


@strawberry.input
class CreateProjectInput:
    name: str
    description: str = ""


@strawberry.input
class UpdateProjectInput:
    name: str | None = strawberry.UNSET
    description: str | None = strawberry.UNSET


@strawberry.input
class CreateFlowInput:
    project_id: strawberry.ID
    name: str
    graph_data: JSON | None = strawberry.field(
        default=strawberry.UNSET, description="Nodes, edges and viewport; empty when left out."
    )
    provider_id: str | None = strawberry.UNSET


@strawberry.input
class UpdateFlowInput:
    version: int = strawberry.field(description="The version you last read; a stale one is refused.")
    name: str | None = strawberry.UNSET
    graph_data: JSON | None = strawberry.UNSET
    provider_id: str | None = strawberry.field(
        default=strawberry.UNSET, description="null clears the flow's provider."
    )


@strawberry.input
class CreateCharacterInput:
    project_id: strawberry.ID | None = strawberry.UNSET
    name: str
    description: str | None = strawberry.UNSET
    appearance: str | None = strawberry.UNSET
    personality: str | None = strawberry.UNSET
    outfit: str | None = strawberry.UNSET
    extra: JSON | None = strawberry.UNSET


@strawberry.input
class UpdateCharacterInput:
    name: str | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    appearance: str | None = strawberry.UNSET
    personality: str | None = strawberry.UNSET
    outfit: str | None = strawberry.UNSET
    extra: JSON | None = strawberry.UNSET
