"""The staff dashboard's figures for one community (or all, for an admin) over a period, and the CSV
exports of submissions, ledger and orders. Names are masked, places coarse, phones absent."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from points import case_figures, clock, scope, task_figures
from points.db import is_sqlite, marks, sql
from points.errors import checked
from points.honours import mask_name
from points.privacy import coarse
from points.scope import Actor
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
    """The period's figures, each aggregated in SQL over the reports submitted in it (an index on the
    community and the time), so a month's dashboard costs the same whatever the history behind it."""
    start, end = period(since, until, rules)
    where, args = scope.clause(actor, "s.community")
    span = ("FROM submission s WHERE s.submitted_at >= {} AND s.submitted_at < {}" + where, [start, end, *args])
    undecided = (SubmissionStatus.SUBMITTED, SubmissionStatus.AWAITING_SECOND)

    async def grouped(by: str, join: str = "") -> list[dict[str, Any]]:
        source = span[0].replace("FROM submission s", f"FROM submission s{join}", 1)
        return await sql(f"SELECT {by} AS key, COUNT(*) AS n {source} GROUP BY {by}", *span[1])

    per_day = Counter({(r["key"] if isinstance(r["key"], date) else date.fromisoformat(str(r["key"]))): r["n"]
                       for r in await grouped("s.local_day")})
    per_category: Counter = Counter()
    for r in await grouped("s.item_id"):
        item = rules.item(r["key"])
        per_category[item.category if item else "?"] += r["n"]
    per_grid = Counter({r["key"] or "—": r["n"] for r in await grouped("g.code", " LEFT JOIN grid g ON g.id = s.grid")})
    totals = (await sql(f"SELECT COUNT(*) AS reports, SUM(CASE WHEN s.status NOT IN ({marks(undecided)}) THEN 1 ELSE 0 "
                        f"END) AS decided, SUM(CASE WHEN s.status NOT IN ({marks(undecided)}) AND s.status <> {{}} "
                        f"THEN 1 ELSE 0 END) AS verified {span[0]}", *undecided, *undecided,
                        SubmissionStatus.REJECTED, *span[1]))[0]
    decided, verified = int(totals["decided"] or 0), int(totals["verified"] or 0)
    # The median wait: the middle one of the verified reports' waits, sorted in the database.
    waited = "s.verified_at IS NOT NULL AND s.status <> {}"
    count = (await sql(f"SELECT COUNT(*) AS n {span[0]} AND {waited}", *span[1], SubmissionStatus.REJECTED))[0]["n"]
    median_wait = None
    if count:
        seconds = _seconds_between("s.verified_at", "s.submitted_at")
        middle = await sql(f"SELECT {seconds} AS w {span[0]} AND {waited} ORDER BY w LIMIT {{}} OFFSET {{}}",
                           *span[1], SubmissionStatus.REJECTED, 2 - count % 2, (count - 1) // 2)
        median_wait = sum(float(r["w"]) for r in middle) / len(middle)
    days = []
    day = rules.local_date(start)
    while datetime.combine(day, datetime.min.time(), rules.tz).astimezone(UTC) < end:
        days.append((day, per_day[day]))
        day += timedelta(days=1)

    twhere, targs = scope.clause(actor, "a.community")
    flows: dict[str, int] = defaultdict(int)
    for r in await sql("SELECT t.code, SUM(t.amount) AS points FROM transfer t JOIN account a ON a.id = t.credit_account "
                       "WHERE t.created_at >= {} AND t.created_at < {} AND t.code IN ({}, {}, {}) "
                       "AND t.idempotency_key NOT LIKE '%:lifetime'" + twhere + " GROUP BY t.code", start, end,
                       TransferCode.AWARD, TransferCode.REDEEM_POST, TransferCode.EXPIRE, *targs):
        flows[r["code"]] = int(r["points"] or 0)
    top = await sql("SELECT m.name, SUM(t.amount) AS points FROM transfer t JOIN account a ON a.id = t.credit_account "
                    "JOIN member m ON m.id = a.member WHERE t.code = {} AND a.kind = {} "
                    "AND t.created_at >= {} AND t.created_at < {}" + twhere +
                    " GROUP BY m.id, m.name ORDER BY SUM(t.amount) DESC, m.id LIMIT 10", TransferCode.AWARD,
                    AccountKind.SPENDABLE, start, end, *targs)
    return {
        "verifiers": await _verifiers(span, undecided),
        "since": rules.local_date(start), "until": rules.local_date(end - timedelta(seconds=1)),
        "reports": int(totals["reports"] or 0), "per_day": days, "per_category": per_category.most_common(),
        "per_grid": sorted(per_grid.items()), "verified_share": verified / decided if decided else None,
        "median_hours_to_verify": median_wait / 3600 if median_wait is not None else None,
        "issued": flows[TransferCode.AWARD], "redeemed": flows[TransferCode.REDEEM_POST],
        "expired": flows[TransferCode.EXPIRE],
        "top": [{"name": mask_name(t["name"]), "points": int(t["points"])} for t in top],
        "tasks": await task_figures.figures(actor, rules, start, end),
    }


async def _verifiers(span: tuple[str, list[Any]], undecided: tuple[str, ...]) -> list[dict[str, Any]]:
    """Each staff member's decisions in the period: how many, the share approved, and the largest share
    that went to one reporter — a verifier who approves nearly everything, or mostly one rider, is worth
    a second look (reliability: four-eyes is one guard, watching the approvers another)."""
    rows = await sql(
        f"SELECT v.verified_by, m.name, SUM(v.n) AS decided, SUM(v.approved) AS approved, MAX(v.n) AS most "
        f"FROM (SELECT s.verified_by, s.member, COUNT(*) AS n, SUM(CASE WHEN s.status <> {{}} THEN 1 ELSE 0 END) "
        f"AS approved {span[0]} AND s.verified_by IS NOT NULL AND s.status NOT IN ({marks(undecided)}) "
        "GROUP BY s.verified_by, s.member) v JOIN member m ON m.id = v.verified_by GROUP BY v.verified_by, m.name",
        SubmissionStatus.REJECTED, *span[1], *undecided)
    out = [{"name": r["name"], "decided": int(r["decided"]), "approved_share": int(r["approved"]) / int(r["decided"]),
            "one_reporter_share": int(r["most"]) / int(r["decided"])} for r in rows]
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
                 lang: str = "zh", say: Callable[[str], str] = str) -> list[tuple[Any, ...]]:
    """The rows of one export for the actor's community and the period; the header first (column ids). Codes
    stay for machines (item, status, code); beside them the names in `lang`, statuses worded by `say` (the
    page's catalogue: `status.awarded` → 已得分), and the ledger's reasons in that one language."""
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
