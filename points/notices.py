"""What changed for a member since their last visit: reports decided or awarded, their problems' cases
moving on (dispatched, fixed, closed), orders resolved, their tasks called off, no-shows recorded and appeals
decided (a task's points come as its report's award)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from points import cases, clock
from points.db import sql, write
from points.scope import Actor
from points.vocabulary import SignupState
from points.wording import pair
from rules import Rules

SEEN_EVERY = timedelta(hours=1)  # a quiet visit moves the news window on at most this often


async def since_last_visit(actor: Actor, rules: Rules) -> list[dict[str, Any]]:
    """The news, newest first; the visit is then recorded, so each piece of news is told once. A visit with
    no news is recorded at most hourly (a home page view is a read, not a write, most of the time)."""
    now = clock.now()

    member = (await sql("SELECT last_seen_at, created_at FROM member WHERE id = {}", actor.id))[0]
    since = member["last_seen_at"] or member["created_at"]
    news = []
    for s in await sql("SELECT id, item_id, status, points, reject_reason, verified_at, awarded_at, reversed_at "
                       "FROM submission WHERE member = {} AND (verified_at > {} OR awarded_at > {} "
                       "OR reversed_at > {})", actor.id, since, since, since):
        item = rules.item(s["item_id"])
        when = max(t for t in (s["verified_at"], s["awarded_at"], s["reversed_at"]) if t)
        reason = pair("reject", s["reject_reason"]) if s["reject_reason"] else ("", "")
        news.append({"kind": s["status"], "submission": s["id"], "item": item, "points": s["points"],
                     "reason_zh": reason[0], "reason_en": reason[1], "at": when})
    for o in await sql("SELECT o.id, o.status, o.resolved_at, r.name_zh, r.name_en FROM redemption o "
                       "JOIN reward r ON r.id = o.reward WHERE o.member = {} AND o.resolved_at > {} "
                       "AND (o.resolved_by IS NULL OR o.resolved_by <> {})", actor.id, since, actor.id):
        news.append({"kind": f"order_{o['status']}", "order": o["id"], "reward": o, "at": o["resolved_at"]})
    for e in await sql("SELECT e.action, e.created_at, s.id AS sid, s.item_id, u.name AS unit FROM case_event e "
                       "JOIN case_file c ON c.id = e.\"case\" JOIN submission s ON s.id = c.submission "
                       "LEFT JOIN unit u ON u.id = e.unit WHERE s.member = {} AND e.created_at > {} "
                       "AND e.action IN ('dispatch', 'dispose', 'close', 'resolve', 'reopen')", actor.id, since):
        news.append({"kind": f"case_{e['action']}", "submission": e["sid"], "item": rules.item(e["item_id"]),
                     "points": None, "unit": e["unit"] or "", "reason_zh": "", "reason_en": "", "at": cases.aware(e["created_at"])})
    for t in await sql("SELECT t.id, t.title, t.status, t.cancelled_at, s.state, s.appeal_state, s.updated_at "
                       "FROM task_signup s JOIN task t ON t.id = s.task WHERE s.member = {} AND s.state <> {} "
                       "AND (t.cancelled_at > {} OR s.updated_at > {})", actor.id, SignupState.CANCELLED, since, since):
        if t["cancelled_at"] and cases.aware(t["cancelled_at"]) > cases.aware(since):
            kind, at = "task_called_off", t["cancelled_at"]
        elif t["state"] in (SignupState.NO_SHOW, SignupState.EXCUSED):
            kind, at = f"task_{t['appeal_state'] or 'no_show'}", t["updated_at"]
        else:
            continue
        news.append({"kind": kind, "task": t["id"], "title": t["title"], "at": cases.aware(at)})
    if news or now - cases.aware(since) > SEEN_EVERY:
        await write(lambda: sql("UPDATE member SET last_seen_at = {} WHERE id = {} RETURNING id", now, actor.id))
    return sorted(news, key=lambda n: n["at"], reverse=True)


