"""The append-only audit log of privileged actions, written in the action's own transaction.

Details never carry a phone number or a precise place (points/privacy.py).
Admins read it through `listing`, newest first.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from points import clock, scope
from points.infra.db import sql
from points.scope import Actor
from points.tables import AuditEvent

# Every action the log records (the admin's filter offers these).
ACTIONS = ("community.settings", "community.grids", "community.scheme", "area.scheme", "member.create", "member.approve", "member.decline", "member.suspend",
           "member.reinstate", "member.deduct", "member.delete", "member.phone_view", "member.promote", "member.role",
           "order.cancel", "order.fulfil", "reward.create", "reward.restock", "reward.update",
           "submission.reclassify", "submission.reject", "submission.reverse", "submission.undo", "submission.verify",
           "token.issue", "token.revoke", "case.dispatch", "case.resolve", "case.accept", "case.return",
           "case.dispose", "case.recheck", "case.close", "case.reopen", "case.rate", "case.ask_extension", "case.grant_extension",
           "case.refuse_extension", "unit.create", "task.publish", "task.cancel", "task.attend", "task.confirm", "task.no_show",
           "task.appeal_grant", "task.appeal_refuse", "member.spam_penalty", "penalty.appeal", "penalty.appeal_grant",
           "penalty.appeal_refuse")


async def record(actor_id: int | None, action: str, object_type: str, object_id: int | str,
                 community_id: int | None, details: dict[str, Any] | None = None) -> None:
    await record_many([(actor_id, action, object_type, object_id, community_id, details)])


async def record_many(rows: list[tuple[int | None, str, str, int | str, int | None, dict[str, Any] | None]]) -> None:
    """Several rows (actor, action, object type, object id, community, details) in one statement: a batch's."""
    if rows:
        now = clock.now()
        await AuditEvent.insert(*(AuditEvent(actor=actor_id, action=action, object_type=object_type,
                                             object_id=str(object_id), community=community_id, details=details or {},
                                             created_at=now)
                                  for actor_id, action, object_type, object_id, community_id, details in rows))


async def listing(actor: Actor, action: str | None = None, community_id: int | None = None, actor_id: int | None = None,
                  object_type: str | None = None, object_id: str | None = None, since: datetime | None = None,
                  until: datetime | None = None, limit: int = 100,
                  before_id: int | None = None) -> list[dict[str, Any]]:
    """Audit rows matching every filter given, newest first (admins only)."""
    scope.require_admin(actor, "read the audit log")
    area, area_args = scope.clause(actor, "a.community")
    where, args = ([area.removeprefix(" AND ")], area_args) if area else ([], [])
    for clause, value in (("a.action = {}", action), ("a.community = {}", community_id), ("a.actor = {}", actor_id),
                          ("a.object_type = {}", object_type), ("a.object_id = {}", object_id),
                          ("a.created_at >= {}", since), ("a.created_at < {}", until), ("a.id < {}", before_id)):
        if value is not None:
            where.append(clause)
            args.append(value)
    rows = await sql("SELECT a.id, a.actor AS actor_id, m.role AS actor_role, m.name AS actor_name, a.action, "
                     "a.object_type, a.object_id, "
                     "a.community AS community_id, a.details, a.created_at FROM audit_event a "
                     "LEFT JOIN member m ON m.id = a.actor" + (" WHERE " + " AND ".join(where) if where else "") +
                     " ORDER BY a.id DESC LIMIT {}", *args, limit)
    for r in rows:
        if isinstance(r["details"], str):
            r["details"] = json.loads(r["details"])
    return rows
