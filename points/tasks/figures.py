"""What tasks gave, for the dashboard and the tasks export: per item and month (the scheme's months) — tasks
run, sign-ups, attendance (present, of those present or recorded absent), hours given and points
confirmed. Sign-ups are counted per task in SQL; the few tasks of a period are rolled up here."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from points import clock, scope
from points.infra.db import sql
from points.scope import Actor
from points.vocabulary import SignupState, TaskStatus
from rules import Rules

COLUMNS = ("month", "item", "item_name", "tasks", "signups", "present", "no_shows", "attendance", "hours")


async def figures(actor: Actor, rules: Rules, start: datetime, end: datetime, lang: str = "zh") -> list[dict[str, Any]]:
    """One row per item and month of the tasks that started in [start, end), newest month first."""
    where, args = scope.clause(actor, "t.community")
    present = (SignupState.CHECKED_IN, SignupState.CHECKED_OUT, SignupState.CONFIRMED)
    rows = await sql(
        "SELECT t.id, t.item_id, t.starts_at, t.ends_at, "
        "SUM(CASE WHEN s.state IS NOT NULL AND s.state <> {} THEN 1 ELSE 0 END) AS signups, "
        "SUM(CASE WHEN s.state IN ({}, {}, {}) THEN 1 ELSE 0 END) AS present, "
        "SUM(CASE WHEN s.state IN ({}, {}) THEN 1 ELSE 0 END) AS no_shows, "
        "SUM(CASE WHEN s.state = {} THEN COALESCE(s.units, 0) ELSE 0 END) AS units "
        "FROM task t LEFT JOIN task_signup s ON s.task = t.id "
        "WHERE t.starts_at >= {} AND t.starts_at < {} AND t.status = {}" + where +
        " GROUP BY t.id, t.item_id, t.starts_at, t.ends_at",
        SignupState.CANCELLED, *present, SignupState.NO_SHOW, SignupState.EXCUSED, SignupState.CONFIRMED,
        start, end, TaskStatus.PUBLISHED, *args)
    rolled: dict[tuple[str, str], dict[str, Any]] = defaultdict(lambda: defaultdict(int))
    for r in rows:
        item = rules.item(r["item_id"])
        month = rules.local_time(clock.aware(r["starts_at"])).strftime("%Y-%m")
        one = rolled[(month, r["item_id"])]
        one["tasks"] += 1
        one["signups"] += int(r["signups"] or 0)
        one["present"] += int(r["present"] or 0)
        one["no_shows"] += int(r["no_shows"] or 0)
        if item is not None and item.unit == "hour":
            one["hours"] += int(r["units"] or 0)
    half = 0 if lang == "zh" else 1
    out = []
    for (month, item_id), v in sorted(rolled.items(), key=lambda kv: (kv[0][0], kv[0][1]), reverse=True):
        item = rules.item(item_id)
        out.append({"month": month, "item": item_id,
                    "item_name": (item.name_zh, item.name_en)[half] if item else item_id,
                    "tasks": v["tasks"], "signups": v["signups"], "present": v["present"], "no_shows": v["no_shows"],
                    # of those whose attendance is known: present, or recorded absent once the task was over
                    "attendance": round(v["present"] / (v["present"] + v["no_shows"]), 3)
                    if v["present"] + v["no_shows"] else None,
                    "hours": v["hours"]})
    return out
