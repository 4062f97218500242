"""The append-only audit log of privileged actions, written in the action's own transaction."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from points.tables import AuditEvent


async def record(actor_id: int | None, action: str, object_type: str, object_id: int | str,
                 community_id: int | None, details: dict[str, Any] | None = None) -> None:
    await AuditEvent.insert(AuditEvent(
        actor=actor_id, action=action, object_type=object_type, object_id=str(object_id),
        community=community_id, details=details or {}, created_at=datetime.now(UTC),
    ))
