"""Who is acting, and what they may touch: every authorisation rule of the domain lives here.

Staff act in their own community; an admin of a street or district in every community of its subtree; an
admin of the deployment in all. A handler acts on the cases of their unit only; a member sees the case of
their own report, the tasks of their own community and their own photos. A scoped lookup of an object
outside the actor's scope answers 404 (`NotFound`), never 403, so existence does not leak, and it raises
before anything is written; a role that may never do a thing gets 403 (`Forbidden`). Nobody decides on
their own report or appeal. Members' own rows are reached through `own()`, which takes the acting member,
never a bare id.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from points import vocabulary
from points.errors import Forbidden, Invalid, NotFound
from points.infra.db import lock_rows_sql, marks, sql
from points.vocabulary import STAFF_ROLES, MemberStatus, Role

ROLES = tuple(Role)
REPORTER_ROLES = vocabulary.REPORTER_ROLES


@dataclass(frozen=True)
class Actor:
    """Who is making a request: what the domain needs to authorise it."""

    id: int
    role: str
    community_id: int
    name: str
    status: str
    area_id: int | None = None  # an admin of a street or district: their area (None: the whole deployment)
    scheme: str | None = None  # the community's scheme version read with the member ('' the default; None unread)

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF_ROLES

    def require_active(self, doing: str) -> None:
        """Pending, declined, suspended and deleted members may look, not act."""
        if self.status != MemberStatus.ACTIVE:
            raise Forbidden(f"member_{self.status}", f"your membership is {self.status}: you cannot {doing} now")


def writes_reach(actor: Actor | None) -> list[int] | None:
    """The communities a request by this caller can change: a reporter's or staff member's own; None: any
    (an admin, a handler, a partner's token, a caller not signed in)."""
    if isinstance(actor, Actor) and (actor.role in REPORTER_ROLES or actor.role == Role.STAFF):
        return [actor.community_id]
    return None


def clause(actor: Actor, column: str = "community") -> tuple[str, list[Any]]:
    """An ``AND <column> …`` restriction of a community column to the actor's scope, and its arguments: staff
    their own community; an admin of an area the communities of its whole subtree; an admin of the
    deployment everything (no restriction)."""
    require_staff(actor)
    if actor.role == Role.ADMIN:
        if actor.area_id is None:
            return "", []
        return (f" AND {column} IN (SELECT sc.id FROM community sc JOIN area sa ON sa.id = sc.area "
                "WHERE sa.path LIKE (SELECT path FROM area WHERE id = {}) || '%')"), [actor.area_id]
    return f" AND {column} = {{}}", [actor.community_id]


async def known_community(actor: Actor, community_id: int, field: str = "community_id") -> None:
    """A community named in a request body: 400 naming the field unless it exists in the actor's scope."""
    where, args = clause(actor, "id")
    if not await sql("SELECT id FROM community WHERE id = {}" + where, community_id, *args):
        raise Invalid("unknown_community", f"no community {community_id}", field=field)


async def known_communities(actor: Actor, community_ids: list[int], field: str) -> list[int]:
    """Communities named in a request body (a unit's, say), sorted and without repeats: 400 naming the field
    unless every one exists in the actor's scope."""
    ids = sorted(set(community_ids))
    where, args = clause(actor, "id")
    known = {r["id"] for r in await sql(f"SELECT id FROM community WHERE id IN ({marks(ids)}){where}", *ids, *args)}
    if missing := [i for i in ids if i not in known]:
        raise Invalid("unknown_community", f"no community {missing[0]}", field=field)
    return ids


async def community(actor: Actor, community_id: int) -> dict[str, Any]:
    """A community the actor (staff or admin) may act on; else 404 (an area's admin: one in their subtree)."""
    return await one(actor, "community", community_id, "community", prefix="", column="id")


async def one(actor: Actor, source: str, object_id: int, what: str | None = None,
              select: str = "*", prefix: str = "", column: str = "community") -> dict[str, Any]:
    """The row `object_id` of `source` (a table, or a join whose main table is `prefix`) if it lies in
    the actor's scope; else 404."""
    where, args = clause(actor, f"{prefix}{column}")
    rows = await sql(f"SELECT {select} FROM {source} WHERE {prefix}id = {{}}" + where, object_id, *args)
    if not rows:
        raise NotFound(what or source)
    return rows[0]


def require_staff(actor: Actor) -> None:
    if not actor.is_staff:
        raise Forbidden("staff_only", "only community staff can do this")


def require_admin(actor: Actor, doing: str = "do this") -> None:
    if actor.role != Role.ADMIN:
        raise Forbidden("admin_only", f"only an admin can {doing}")


def require_handler(actor: Actor) -> None:
    if actor.role != Role.HANDLER:
        raise Forbidden("handler_only", "only a handler of the case's unit can do this")


def require_reporter(actor: Actor, doing: str, code: str = "members_only") -> None:
    """What riders and residents do for themselves (sign up for a task, rate their case): not staff or
    handlers."""
    if actor.role not in REPORTER_ROLES:
        raise Forbidden(code, f"only riders and residents {doing}")


def not_own_report(actor: Actor, report: dict[str, Any]) -> None:
    """Nobody verifies, rejects or reverses their own report (a staff member who also reports, say)."""
    not_own(actor, report["member"], "report")


def not_own(actor: Actor, member_id: int, what: str) -> None:
    """Nobody decides on their own report or appeal."""
    if member_id == actor.id:
        raise Forbidden("self_verification", f"nobody decides on their own {what}")


def mine(actor: Actor, column: str = "member") -> tuple[str, list[Any]]:
    """An ``AND <column> = …`` restriction to the acting member's own rows, and its arguments."""
    return f" AND {column} = {{}}", [actor.id]


async def own(actor: Actor, source: str, object_id: int, what: str | None = None) -> dict[str, Any]:
    """The row `object_id` of `source` if it is the acting member's own (its `member` column); else 404."""
    rows = await sql(f"SELECT * FROM {source} WHERE id = {{}} AND member = {{}}", object_id, actor.id)
    if not rows:
        raise NotFound(what or source)
    return rows[0]


async def own_debit(actor: Actor, transfer_id: int) -> dict[str, Any]:
    """A transfer that took points from the acting member (a line of their history, from their spendable or
    debt account), with its community; else 404."""
    rows = await sql("SELECT t.*, a.member, m.community FROM transfer t JOIN account a ON a.id = t.debit_account "
                     "JOIN member m ON m.id = a.member WHERE t.id = {} AND a.member = {}", transfer_id, actor.id)
    if not rows:
        raise NotFound("transfer")
    return rows[0]


async def order(actor: Actor, order_id: int) -> dict[str, Any]:
    """An order: staff of its community, or the member who placed it; else 404."""
    if actor.is_staff:
        return await one(actor, "redemption", order_id, "order")
    return await own(actor, "redemption", order_id, "order")


# ------------------------------------------------------------------ cases and units


async def handler_unit(actor: Actor) -> int:
    """The unit a handler acts for; anyone else has none (their cases do not exist for them: 404)."""
    if actor.role != Role.HANDLER:
        raise NotFound("case")
    rows = await sql("SELECT unit FROM member WHERE id = {}", actor.id)
    if not rows or rows[0]["unit"] is None:
        raise NotFound("case")
    return rows[0]["unit"]


async def case(actor: Actor, case_id: int) -> dict[str, Any]:
    """The case if the actor may see it — staff of its community, a handler of its unit, its reporter —
    else 404."""
    if actor.is_staff:
        return await one(actor, "case_file", case_id, "case")
    if actor.role == Role.HANDLER:
        rows = await sql("SELECT * FROM case_file WHERE id = {} AND unit = {}", case_id, await handler_unit(actor))
    else:
        rows = await sql("SELECT c.* FROM case_file c JOIN submission s ON s.id = c.submission "
                         "WHERE c.id = {} AND s.member = {}", case_id, actor.id)
    if not rows:
        raise NotFound("case")
    return rows[0]


async def served_by(actor: Actor, unit_id: int, field: str = "unit") -> list[dict[str, Any]]:
    """A unit named in a request body (an admin linking it to an outside system): its id, name and the
    communities it serves in the actor's scope, first community first; 400 naming the field if it serves none
    there."""
    where, args = clause(actor, "uc.community")
    served = await sql("SELECT u.id, u.name, uc.community FROM unit u JOIN unit_community uc ON uc.unit = u.id "
                       "WHERE u.id = {}" + where + " ORDER BY uc.community", unit_id, *args)
    if not served:
        raise Invalid("unknown_unit", "no unit with this id serves a community you manage", field=field)
    return served


def filer(actor: Actor, community: dict[str, Any]) -> None:
    """An API token files (Open311) in its own community only, as its account; the item's roles are intake's
    check."""
    if community["id"] != actor.community_id:
        raise Forbidden("wrong_jurisdiction", "jurisdiction_id: this token files in its own community only",
                        field="jurisdiction_id")


# ------------------------------------------------------------------ tasks


async def task(actor: Actor, task_id: int, lock: bool = False) -> dict[str, Any]:
    """The task's row if it is in the actor's community (staff and admins: their scope); else 404. `lock`:
    the row, until the transaction commits."""
    if actor.is_staff:
        where, args = clause(actor)
    else:
        where, args = " AND community = {}", [actor.community_id]
    rows = await sql("SELECT * FROM task WHERE id = {}" + where + (lock_rows_sql() if lock else ""), task_id, *args)
    if not rows:
        raise NotFound("task")
    return rows[0]


def case_report_photo(actor: Actor) -> None:
    """A report's photos through its case are for staff and the unit, who must find the problem; the reporter
    has their own report's photos, and finds nothing here."""
    if actor.role in REPORTER_ROLES:
        raise NotFound("photo")


def task_photo(actor: Actor, taker: int) -> None:
    """A checkpoint photo is seen by staff of the task's community (the task was found in their scope) and
    the member who took it; anyone else finds nothing."""
    if not (actor.is_staff or taker == actor.id):
        raise NotFound("photo")
