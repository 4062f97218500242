"""What changed for a member since their last visit: reports decided or awarded, their problems' cases
moving on (dispatched, fixed, closed), orders resolved, their tasks called off, no-shows recorded and appeals
decided (a task's points come as its report's award)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from points import clock
from points.infra.db import marks, sql, write
from points.scope import Actor
from points.vocabulary import CaseAction, SignupState
from points.wording import pair
from rules import Rules

SEEN_EVERY = timedelta(hours=1)  # a quiet visit moves the news window on at most this often


# One statement, one round trip a home page: the visit mark, then each kind of news since it, as rows of one
# shape (src, id, item_id, status, points, text1, text2, at1, at2, at3).
CASE_NEWS = (CaseAction.DISPATCH, CaseAction.DISPOSE, CaseAction.CLOSE, CaseAction.RESOLVE, CaseAction.REOPEN)
_SINCE = "(SELECT COALESCE(last_seen_at, created_at) FROM member WHERE id = {})"
NEWS = (
    "SELECT 'seen' AS src, NULL AS id, NULL AS item_id, NULL AS status, NULL AS points, NULL AS text1, "
    "NULL AS text2, COALESCE(last_seen_at, created_at) AS at1, NULL AS at2, NULL AS at3 FROM member WHERE id = {} "
    "UNION ALL SELECT 'report', id, item_id, status, points, reject_reason, NULL, verified_at, awarded_at, "
    f"reversed_at FROM submission WHERE member = {{}} AND (verified_at > {_SINCE} OR awarded_at > {_SINCE} "
    f"OR reversed_at > {_SINCE}) "
    "UNION ALL SELECT 'order', o.id, NULL, o.status, NULL, r.name_zh, r.name_en, o.resolved_at, NULL, NULL "
    "FROM redemption o JOIN reward r ON r.id = o.reward WHERE o.member = {} "
    f"AND o.resolved_at > {_SINCE} AND (o.resolved_by IS NULL OR o.resolved_by <> {{}}) "
    "UNION ALL SELECT 'case', s.id, s.item_id, e.action, NULL, u.name, NULL, e.created_at, NULL, NULL "
    "FROM case_event e JOIN case_file c ON c.id = e.\"case\" JOIN submission s ON s.id = c.submission "
    f"LEFT JOIN unit u ON u.id = e.unit WHERE s.member = {{}} AND e.created_at > {_SINCE} "
    f"AND e.action IN ({marks(CASE_NEWS)}) "
    "UNION ALL SELECT 'task', t.id, NULL, s.state, NULL, t.title, s.appeal_state, t.cancelled_at, s.updated_at, "
    "NULL FROM task_signup s JOIN task t ON t.id = s.task WHERE s.member = {} AND s.state <> {} "
    f"AND (t.cancelled_at > {_SINCE} OR s.updated_at > {_SINCE})")


async def since_last_visit(actor: Actor, rules: Rules) -> list[dict[str, Any]]:
    """The news, newest first; the visit is then recorded, so each piece of news is told once. A visit with
    no news is recorded at most hourly (a home page view is a read, not a write, most of the time)."""
    now, m = clock.now(), actor.id
    rows = await sql(NEWS, m, m, m, m, m, m, m, m, m, m, *CASE_NEWS, m, SignupState.CANCELLED, m, m)
    since = next(clock.aware(r["at1"]) for r in rows if r["src"] == "seen")
    news = []
    for r in rows:
        if r["src"] == "report":
            when = max(clock.aware(t) for t in (r["at1"], r["at2"], r["at3"]) if t)
            reason = pair("reject", r["text1"]) if r["text1"] else ("", "")
            news.append({"kind": r["status"], "submission": r["id"], "item": rules.item(r["item_id"]),
                         "points": r["points"], "reason_zh": reason[0], "reason_en": reason[1], "at": when})
        elif r["src"] == "order":
            news.append({"kind": f"order_{r['status']}", "order": r["id"],
                         "reward": {"name_zh": r["text1"], "name_en": r["text2"]}, "at": clock.aware(r["at1"])})
        elif r["src"] == "case":
            news.append({"kind": f"case_{r['status']}", "submission": r["id"], "item": rules.item(r["item_id"]),
                         "points": None, "unit": r["text1"] or "", "reason_zh": "", "reason_en": "",
                         "at": clock.aware(r["at1"])})
        elif r["src"] == "task":
            if r["at1"] and clock.aware(r["at1"]) > since:
                news.append({"kind": "task_called_off", "task": r["id"], "title": r["text1"],
                             "at": clock.aware(r["at1"])})
            elif r["status"] in (SignupState.NO_SHOW, SignupState.EXCUSED):
                news.append({"kind": f"task_{r['text2'] or 'no_show'}", "task": r["id"], "title": r["text1"],
                             "at": clock.aware(r["at2"])})
    if news or now - since > SEEN_EVERY:
        await write(lambda: sql("UPDATE member SET last_seen_at = {} WHERE id = {} RETURNING id", now, actor.id))
    return sorted(news, key=lambda n: n["at"], reverse=True)
