"""Who is calling: the identity every service is given (services.accounts.auth makes it from a token)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from services.accounts.tokens import AccountKind


@dataclass(frozen=True)
class Actor:
    """Who is calling: an editor user or a backoffice user, within one login session."""

    kind: AccountKind
    id: int
    session_id: uuid.UUID

    @property
    def is_backoffice(self) -> bool:
        return self.kind == "backoffice"

    @property
    def owner_filter(self) -> int | None:
        """The owner whose objects this actor may see; None = everyone's (backoffice)."""
        return None if self.is_backoffice else self.id
