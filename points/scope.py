"""Who is acting, and which communities they may act in: the one helper every staff query goes through.

Staff act in their own community, admins in all. A scoped lookup of an object
outside the actor's scope answers 404 (`NotFound`), never 403, so existence
does not leak, and it raises before anything is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from points.db import sql
from points.errors import Forbidden, NotFound

ROLES = ("rider", "resident", "staff", "admin")
REPORTER_ROLES = ("rider", "resident")


@dataclass(frozen=True)
class Actor:
    """Who is making a request: what the domain needs to authorise it."""

    id: int
    role: str
    community_id: int
    name: str
    status: str

    @property
    def is_staff(self) -> bool:
        return self.role in ("staff", "admin")

    def require_active(self, doing: str) -> None:
        """Pending, declined, suspended and deleted members may look, not act."""
        if self.status != "active":
            raise Forbidden(f"member_{self.status}", f"your membership is {self.status}: you cannot {doing} now")


def clause(actor: Actor, column: str = "community") -> tuple[str, list[Any]]:
    """An ``AND <column> = …`` restriction for `actor` (empty for admins), and its arguments."""
    if not actor.is_staff:
        raise Forbidden("staff_only", "only community staff can do this")
    if actor.role == "admin":
        return "", []
    return f" AND {column} = {{}}", [actor.community_id]


async def one(actor: Actor, source: str, object_id: int, what: str | None = None,
              select: str = "*", prefix: str = "") -> dict[str, Any]:
    """The row `object_id` of `source` (a table, or a join whose main table is `prefix`) if it lies in
    the actor's scope; else 404."""
    where, args = clause(actor, f"{prefix}community")
    rows = await sql(f"SELECT {select} FROM {source} WHERE {prefix}id = {{}}" + where, object_id, *args)
    if not rows:
        raise NotFound(what or source)
    return rows[0]


def allows(actor: Actor, community_id: int) -> bool:
    return actor.role == "admin" or (actor.is_staff and actor.community_id == community_id)
