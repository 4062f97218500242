"""How well a community's problems get fixed, for the dashboard and the cases export: of the cases of a period
(those disposed of in it, and those due in it and still undone when it ended), the share disposed of (处置率)
and the share disposed of by their deadline (按时率; a case fixed on the spot is on time); the working hours
from dispatch to disposal (median and 90th percentile), per unit and per priority; the open cases past
their deadline. Working hours leave out weekends and holidays (the calendar file)."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from statistics import median
from typing import Any

from points import clock, scope
from points.cases import workflow as cases
from points.infra.db import marks, sql
from points.scope import Actor
from points.vocabulary import CaseAction, CaseState
from rules import Rules

SENT = (CaseAction.DISPATCH, CaseAction.REOPEN)
FIXED = (CaseAction.DISPOSE, CaseAction.RESOLVE)  # 处置 by the unit, or 就地解决 by staff
DISPOSED = (CaseState.DISPOSED, CaseState.RECHECKING, CaseState.CLOSED, CaseState.RESOLVED_ON_SITE)


def _at(moment: Any) -> datetime:
    return clock.aware(moment)


def _period(columns: str, where: str) -> str:
    """The one definition of a period's cases, as SQL: those first disposed of in it (whenever they were due),
    and those due in it and not disposed of before it began — a case fixed early counts when it was fixed, one
    still open counts, undone, in the period its deadline fell in. Its arguments: `_period_args`. Each row has
    `fixed`: the first disposal, if any."""
    fixed = f"(SELECT MIN(e.created_at) FROM case_event e WHERE e.\"case\" = c.id AND e.action IN ({marks(FIXED)}))"
    return (f"SELECT * FROM (SELECT {columns}, {fixed} AS fixed FROM case_file c "
            "JOIN submission s ON s.id = c.submission LEFT JOIN unit u ON u.id = c.unit "
            "WHERE ((c.deadline >= {} AND c.deadline < {}) OR c.id IN (SELECT e.\"case\" FROM case_event e "
            f"WHERE e.action IN ({marks(FIXED)}) AND e.created_at >= {{}} AND e.created_at < {{}})){where}) x "
            "WHERE x.fixed IS NULL OR x.fixed >= {}")


def _period_args(start: datetime, end: datetime, where_args: list[Any]) -> list[Any]:
    """`_period`'s arguments, in the order its statement names them."""
    return [*FIXED, start, end, *FIXED, start, end, *where_args, start]


async def _cases(actor: Actor, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """The cases of the period (`_period`), each with its last dispatch and its disposal as the period ended."""
    where, args = scope.clause(actor, "c.community")
    rows = await sql(_period("c.id, c.submission, c.state, c.priority, c.deadline, c.unit, u.name AS unit_name, "
                             "s.item_id", where), *_period_args(start, end, args))
    if not rows:
        return []
    ids = [r["id"] for r in rows]
    steps: dict[int, dict[str, Any]] = defaultdict(dict)
    for e in await sql(f"SELECT \"case\" AS cid, action, MAX(created_at) AS last FROM case_event "
                       f"WHERE \"case\" IN ({marks(ids)}) AND action IN ({marks(SENT)}) GROUP BY \"case\", action",
                       *ids, *SENT):
        steps[e["cid"]][e["action"]] = e
    for r in rows:
        sent = [steps[r["id"]][a]["last"] for a in SENT if a in steps[r["id"]]]
        r["dispatched_at"] = max(map(_at, sent)) if sent else None
        fixed = _at(r["fixed"]) if r["fixed"] else None
        r["disposed_at"] = fixed if fixed and fixed < end else None  # a fix after the period is not yet one
    return rows


async def disposal_by_community(community_ids: list[int], start: datetime, end: datetime) -> dict[int, dict[str, int]]:
    """Per community: its cases of the period (`_period`) and how many of them were disposed of in it, counted
    in SQL."""
    if not community_ids:
        return {}
    inner = _period("c.community, c.state", f" AND c.community IN ({marks(community_ids)})")
    rows = await sql(f"SELECT p.community, COUNT(*) AS due, SUM(CASE WHEN p.fixed < {{}} AND p.state IN "
                     f"({marks(DISPOSED)}) THEN 1 ELSE 0 END) AS done FROM ({inner}) p GROUP BY p.community",
                     end, *DISPOSED, *_period_args(start, end, community_ids))
    return {r["community"]: {"due": int(r["due"]), "done": int(r["done"] or 0)} for r in rows}


def _percentile(values: list[float], share: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def _summary(rows: list[dict[str, Any]], rules: Rules) -> dict[str, Any]:
    cal = cases.calendar()
    due = len(rows)
    disposed = [r for r in rows if r["disposed_at"] and r["state"] in DISPOSED]  # and not reopened since
    on_time = [r for r in disposed if r["deadline"] is None or r["disposed_at"] <= _at(r["deadline"])]
    hours = [cal.working_hours(r["dispatched_at"], r["disposed_at"], rules.tz) for r in disposed
             if r["dispatched_at"] and r["disposed_at"]]
    return {"due": due, "disposed": len(disposed), "disposal_rate": len(disposed) / due if due else None,
            "on_time": len(on_time), "on_time_rate": len(on_time) / due if due else None,
            "median_hours": median(hours) if hours else None, "p90_hours": _percentile(hours, 0.9)}


async def figures(actor: Actor, rules: Rules, start: datetime, end: datetime) -> dict[str, Any]:
    rows = await _cases(actor, start, end)
    per_unit: dict[str, list] = defaultdict(list)
    per_priority: dict[str, list] = defaultdict(list)
    for r in rows:
        per_unit[r["unit_name"] or "—"].append(r)
        per_priority[r["priority"]].append(r)
    where, args = scope.clause(actor)
    overdue = (await sql("SELECT COUNT(*) AS n FROM case_file WHERE state IN ({}, {}) AND deadline < {}" + where,
                         CaseState.DISPATCHED, CaseState.ACCEPTED, clock.now(), *args))[0]["n"]
    return {**_summary(rows, rules), "overdue_open": overdue,
            "per_unit": sorted((name, _summary(group, rules)) for name, group in per_unit.items()),
            "per_priority": sorted((p, _summary(group, rules)) for p, group in per_priority.items())}


EXPORT_HEADER = ("case", "submission", "item", "item_name", "priority", "unit", "state", "state_name", "deadline",
                 "dispatched_at", "disposed_at", "on_time", "working_hours")


async def export_rows(actor: Actor, rules: Rules, start: datetime, end: datetime, lang: str,
                      say: Any) -> list[tuple[Any, ...]]:
    """The cases of the period (as the figures count them) as rows, the header first: codes for machines, names
    in `lang`."""
    half, cal = (0 if lang != "en" else 1), cases.calendar()
    body = []
    for r in sorted(await _cases(actor, start, end), key=lambda r: r["id"]):
        item = rules.item(r["item_id"])
        hours = (round(cal.working_hours(r["dispatched_at"], r["disposed_at"], rules.tz), 1)
                 if r["dispatched_at"] and r["disposed_at"] else "")
        body.append((r["id"], r["submission"], r["item_id"], (item.name_zh, item.name_en)[half] if item else r["item_id"],
                     r["priority"], r["unit_name"] or "", r["state"], say(f"case.{r['state']}"),
                     _at(r["deadline"]) if r["deadline"] else "", r["dispatched_at"], r["disposed_at"],
                     "" if not r["disposed_at"] else int(not r["deadline"] or r["disposed_at"] <= _at(r["deadline"])),
                     hours))
    return [EXPORT_HEADER, *body]
