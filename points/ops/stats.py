"""The staff dashboard's figures for one community (or all, for an admin) over a period, and the CSV
exports of submissions, ledger and orders. Names are masked, places coarse, phones absent."""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from points import clock, scope
from points.cases import figures as case_figures
from points.errors import checked
from points.infra.db import is_sqlite, marks, sql
from points.ledger.honours import mask_name
from points.privacy import coarse
from points.scope import Actor
from points.tasks import figures as task_figures
from points.vocabulary import AccountKind, SubmissionStatus, TransferCode
from rules import Rules, fields


def period(since: date | None, until: date | None, rules: Rules) -> tuple[datetime, datetime]:
    """[since, until] as local days, by default the last 30; returned as UTC instants [start, end)."""
    for name, day in (("since", since), ("until", until)):
        if day is not None:
            checked(fields.DAY, name, day)
    today = rules.local_date(clock.now())
    until = until or today
    since = since or until - timedelta(days=29)
    start = datetime.combine(since, datetime.min.time(), rules.tz).astimezone(UTC)
    end = datetime.combine(until + timedelta(days=1), datetime.min.time(), rules.tz).astimezone(UTC)
    return start, end


def _seconds_between(later: str, earlier: str) -> str:
    """SQL for the seconds from one timestamp column to another, in either database."""
    if is_sqlite():
        return f"((julianday({later}) - julianday({earlier})) * 86400.0)"
    return f"EXTRACT(EPOCH FROM ({later} - {earlier}))"


async def dashboard(actor: Actor, rules: Rules, since: date | None = None, until: date | None = None) -> dict[str, Any]:
    """The period's figures, aggregated in SQL: one read of the reports submitted in it (an index on the
    community and the time) and one of the points that moved in it (an index on the code and the time), so
    a month's dashboard costs the same whatever the history behind it."""
    start, end = period(since, until, rules)
    # Three independent reads, side by side on the pool (PostgreSQL runs them on separate cores).
    figures, (flows, top), tasks = await asyncio.gather(
        _report_figures(actor, start, end), _points_figures(actor, start, end),
        task_figures.figures(actor, rules, start, end))
    per_day = Counter({(k if isinstance(k, date) else date.fromisoformat(str(k))): n for k, n in figures["day"]})
    per_category: Counter = Counter()
    for key, n in figures["item"]:
        item = rules.item(key)
        per_category[item.category if item else "?"] += n
    statuses = Counter(dict(figures["status"]))
    reports = sum(statuses.values())
    decided = reports - sum(statuses[s] for s in UNDECIDED)
    verified = decided - statuses[SubmissionStatus.REJECTED]
    waits = figures["wait"]
    days = []
    day = rules.local_date(start)
    while datetime.combine(day, datetime.min.time(), rules.tz).astimezone(UTC) < end:
        days.append((day, per_day[day]))
        day += timedelta(days=1)
    return {
        "verifiers": await _verifiers(figures["verifier"]),
        "since": rules.local_date(start), "until": rules.local_date(end - timedelta(seconds=1)),
        "reports": reports, "per_day": days, "per_category": per_category.most_common(),
        "per_grid": sorted((k or "—", n) for k, n in figures["grid"]),
        "verified_share": verified / decided if decided else None,
        "median_hours_to_verify": sum(waits) / len(waits) / 3600 if waits else None,
        "issued": flows[TransferCode.AWARD], "redeemed": flows[TransferCode.REDEEM_POST],
        "expired": flows[TransferCode.EXPIRE],
        "top": [{"name": mask_name(t["name"]), "points": int(t["points"])} for t in top],
        "tasks": tasks,
    }


UNDECIDED = (SubmissionStatus.SUBMITTED, SubmissionStatus.AWAITING_SECOND)


async def _report_figures(actor: Actor, start: datetime, end: datetime) -> dict[str, list[Any]]:
    """The period's reports read once (a CTE) and counted several ways in one statement: per day, item,
    grid and status; the middle one or two of the verified reports' waits (the median, ranked in the
    database); and per verifier, decisions, approvals and the most that went to one reporter."""
    where, args = scope.clause(actor, "s.community")
    seconds = _seconds_between("s.verified_at", "s.submitted_at")
    rejected = SubmissionStatus.REJECTED
    text = "TEXT" if is_sqlite() else "VARCHAR"
    rows = await sql(
        f"WITH r AS (SELECT CAST(s.local_day AS {text}) AS day, s.item_id, g.code AS grid, s.status, s.member, "
        f"s.verified_by, CASE WHEN s.verified_at IS NOT NULL AND s.status <> {{}} THEN {seconds} END AS wait "
        "FROM submission s LEFT JOIN grid g ON g.id = s.grid "
        f"WHERE s.submitted_at >= {{}} AND s.submitted_at < {{}}{where}), "
        "waits AS (SELECT wait, ROW_NUMBER() OVER (ORDER BY wait) AS rank, COUNT(*) OVER () AS n "
        "FROM r WHERE wait IS NOT NULL), "
        "pairs AS (SELECT verified_by, COUNT(*) AS n, "
        "SUM(CASE WHEN status <> {} THEN 1 ELSE 0 END) AS approved FROM r "
        f"WHERE verified_by IS NOT NULL AND status NOT IN ({marks(UNDECIDED)}) GROUP BY verified_by, member) "
        "SELECT 'day' AS kind, day AS key, COUNT(*) AS n, 0 AS a, 0 AS b FROM r GROUP BY day "
        "UNION ALL SELECT 'item', item_id, COUNT(*), 0, 0 FROM r GROUP BY item_id "
        "UNION ALL SELECT 'grid', grid, COUNT(*), 0, 0 FROM r GROUP BY grid "
        "UNION ALL SELECT 'status', status, COUNT(*), 0, 0 FROM r GROUP BY status "
        "UNION ALL SELECT 'wait', NULL, 0, wait, 0 FROM waits WHERE rank IN ((n + 1) / 2, (n + 2) / 2) "
        f"UNION ALL SELECT 'verifier', CAST(verified_by AS {text}), SUM(n), SUM(approved), MAX(n) FROM pairs "
        "GROUP BY verified_by",
        rejected, start, end, *args, rejected, *UNDECIDED)
    out: dict[str, list[Any]] = defaultdict(list)
    for r in rows:
        if r["kind"] == "wait":
            out["wait"].append(float(r["a"]))
        elif r["kind"] == "verifier":
            out["verifier"].append((int(r["key"]), int(r["n"]), int(r["a"]), int(r["b"])))
        else:
            out[r["kind"]].append((r["key"], int(r["n"])))
    return out


async def _points_figures(actor: Actor, start: datetime, end: datetime) -> tuple[dict[str, int], list[dict[str, Any]]]:
    """Points issued, redeemed and expired in the period, and the ten members who earned most: one read of
    the period's transfers of those kinds."""
    where, args = scope.clause(actor, "a.community")
    codes = (TransferCode.AWARD, TransferCode.REDEEM_POST, TransferCode.EXPIRE)
    rows = await sql(
        "WITH t AS (SELECT t.code, t.amount, a.member, a.kind FROM transfer t JOIN account a ON a.id = t.credit_account "
        f"WHERE t.created_at >= {{}} AND t.created_at < {{}} AND t.code IN ({marks(codes)}) "
        f"AND t.idempotency_key NOT LIKE '%:lifetime'{where}), "
        "earners AS (SELECT member, SUM(amount) AS points FROM t WHERE code = {} AND kind = {} GROUP BY member "
        "ORDER BY SUM(amount) DESC, member LIMIT 10) "
        "SELECT t.code AS kind, NULL AS name, SUM(t.amount) AS points, 0 AS member FROM t GROUP BY t.code "
        "UNION ALL SELECT 'top', m.name, e.points, m.id FROM earners e JOIN member m ON m.id = e.member",
        start, end, *codes, *args, TransferCode.AWARD, AccountKind.SPENDABLE)
    flows: dict[str, int] = defaultdict(int)
    top = []
    for r in rows:
        if r["kind"] == "top":
            top.append({"name": r["name"], "points": int(r["points"]), "member": r["member"]})
        else:
            flows[r["kind"]] = int(r["points"] or 0)
    return flows, sorted(top, key=lambda t: (-t["points"], t["member"]))


async def _verifiers(figures: list[tuple[int, int, int, int]]) -> list[dict[str, Any]]:
    """Each staff member's decisions in the period: how many, the share approved, and the largest share
    that went to one reporter — a verifier who approves nearly everything, or mostly one rider, is worth
    a second look (reliability: four-eyes is one guard, watching the approvers another)."""
    if not figures:
        return []
    names = {r["id"]: r["name"] for r in await sql(
        f"SELECT id, name FROM member WHERE id IN ({marks(figures)})", *(f[0] for f in figures))}
    out = [{"name": names[who], "decided": decided, "approved_share": approved / decided,
            "one_reporter_share": most / decided} for who, decided, approved, most in figures]
    return sorted(out, key=lambda v: (-v["decided"], v["name"]))


EXPORTS = {
    "submissions": ("id", "submitted_at", "member", "item", "item_name", "units", "status", "status_name", "points",
                    "grid", "lat", "lng", "verified_at", "awarded_at"),
    "ledger": ("id", "created_at", "code", "from_account", "to_account", "amount", "ref", "reason"),
    "orders": ("id", "created_at", "member", "reward", "reward_name", "price", "status", "status_name", "resolved_at"),
    "tasks": task_figures.COLUMNS,
}
LANG_HALF = {"zh": 0, "en": 1}  # the ledger writes its reasons "中文 / English"


async def export(actor: Actor, kind: str, rules: Rules, since: date | None = None, until: date | None = None,
                 lang: str = "zh", say: Callable[[str], str] = str, codes: bool = False) -> list[tuple[Any, ...]]:
    """The rows of one export for the actor's community and the period; the header first: each column named in
    `lang` by `say` (`column.submitted_at` → 上报时间), or its id with `codes` (for scripts). Codes stay for
    machines (item, status, code); beside them the names in `lang`, statuses worded by `say` (the page's
    catalogue: `status.awarded` → 已得分), and the ledger's reasons in that one language."""
    rows = await _export(actor, kind, rules, since, until, lang, say)
    return [tuple(rows[0]) if codes else tuple(say(f"column.{c}") for c in rows[0]), *rows[1:]]


async def _export(actor: Actor, kind: str, rules: Rules, since: date | None, until: date | None, lang: str,
                  say: Callable[[str], str]) -> list[tuple[Any, ...]]:
    half = LANG_HALF.get(lang, 0)

    def item_name(item_id: str) -> str:
        item = rules.item(item_id)
        return (item.name_zh, item.name_en)[half] if item else item_id

    start, end = period(since, until, rules)
    if kind == "submissions":
        where, args = scope.clause(actor, "s.community")
        rows = await sql("SELECT s.id, s.submitted_at, s.member, s.item_id, s.units, s.status, s.points, g.code AS grid, "
                         "s.lat, s.lng, s.verified_at, s.awarded_at FROM submission s LEFT JOIN grid g ON g.id = s.grid "
                         "WHERE s.submitted_at >= {} AND s.submitted_at < {}" + where + " ORDER BY s.id",
                         start, end, *args)
        body = [(r["id"], r["submitted_at"], r["member"], r["item_id"], item_name(r["item_id"]), r["units"], r["status"],
                 say(f"status.{r['status']}"), r["points"], r["grid"], coarse(r["lat"]), coarse(r["lng"]),
                 r["verified_at"], r["awarded_at"]) for r in rows]
    elif kind == "ledger":
        where, args = scope.clause(actor, "d.community")
        rows = await sql("SELECT t.id, t.created_at, t.code, d.key AS debit, c.key AS credit, t.amount, t.ref, t.reason "
                         "FROM transfer t JOIN account d ON d.id = t.debit_account "
                         "JOIN account c ON c.id = t.credit_account "
                         "WHERE t.created_at >= {} AND t.created_at < {}" + where + " ORDER BY t.id", start, end, *args)
        body = [(r["id"], r["created_at"], r["code"], r["debit"], r["credit"], r["amount"], r["ref"],
                 _one_language(r["reason"], half)) for r in rows]
    elif kind == "cases":
        rows = await case_figures.export_rows(actor, rules, start, end, lang, say)
        return [rows[0], *(tuple(_cell(v, rules) for v in row) for row in rows[1:])]
    elif kind == "tasks":
        body = [tuple(r[c] for c in task_figures.COLUMNS)
                for r in await task_figures.figures(actor, rules, start, end, lang)]
    elif kind == "orders":
        where, args = scope.clause(actor, "o.community")
        rows = await sql("SELECT o.id, o.created_at, o.member, r.code, r.name_zh, r.name_en, o.price, o.status, "
                         "o.resolved_at FROM redemption o JOIN reward r ON r.id = o.reward "
                         "WHERE o.created_at >= {} AND o.created_at < {}" + where + " ORDER BY o.id", start, end, *args)
        body = [(r["id"], r["created_at"], r["member"], r["code"], (r["name_zh"], r["name_en"])[half] or r["name_zh"],
                 r["price"], r["status"], say(f"order.{r['status']}"), r["resolved_at"]) for r in rows]
    else:
        raise KeyError(kind)
    return [EXPORTS[kind], *([_cell(v, rules) for v in row] for row in body)]


def _one_language(reason: str, half: int) -> str:
    """A ledger reason ("中文 / English (detail)") in one of its languages; one written in one language as it is."""
    parts = reason.split(" / ", 1)
    return parts[half] if len(parts) == 2 else reason


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any, rules: Rules) -> Any:
    """A moment in the scheme's local time, to the minute (as the pages show it); a text a spreadsheet would
    run as a formula (=, +, -, @ first) with a leading apostrophe."""
    if isinstance(value, datetime):
        return rules.local_time(value).strftime("%Y-%m-%d %H:%M")
    return f"'{value}" if isinstance(value, str) and value.startswith(FORMULA_START) else value
