"""Awarding verified submissions: caps, the first-reporter rule, and the transfers.

`award_batch()` takes up to N verified submissions and, in one transaction,
moves each to `awarded` (a conditional verified → awarded update) and writes
its transfers with keys ``award:submission:{id}`` (spendable) and
``award:submission:{id}:lifetime``. Run it once or ten times, in one process
or many: each submission is awarded exactly once. A backlog drains many
awards per transaction.

Caps are counted under a lock on the members' accounts (PostgreSQL) or the
database write lock (SQLite), so concurrent batches cannot overshoot them. A
capped or duplicate report is still awarded, with the points it could have
(possibly 0) and the reason in `award_note`: nothing is dropped silently.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from typing import Any

from points import audit, clock
from points.cases import workflow as cases
from points.infra.db import marks, skip_locked_sql, sql, values_list, write
from points.ledger import honours
from points.ledger import transfers as ledger
from points.ledger.transfers import DEBT, LIFETIME, LIFETIME_ISSUANCE, SPENDABLE, TransferSpec
from points.people import referrals
from points.reports.intake import Earlier, earlier_reports
from points.vocabulary import (
    MINTING_KINDS,
    SubmissionStatus,
    TransferCode,
    award_key,
    is_lifetime_key,
    parse_ref,
    settle_key,
    submission_ref,
)
from points.wording import both
from rules import Rules


@dataclass(frozen=True)
class Candidate:
    id: int
    member: int
    community: int
    item_id: str
    units: int
    local_day: date


@dataclass(frozen=True)
class Decision:
    id: int
    points: int
    note: str  # "" when the item's full points were given


class Usage:
    """What members have already earned, by day and month, for cap checks."""

    def __init__(self) -> None:
        self.units: dict[tuple, int] = defaultdict(int)
        self.points: dict[tuple, int] = defaultdict(int)

    def add(self, member: int, item_id: str, category: str, day: date, units: int, points: int) -> None:
        month = (day.year, day.month)
        for scope in (("item", item_id, day), ("item", item_id, month)):
            self.units[(member, *scope)] += units
        for scope in (("category", category, day), ("category", category, month), ("all", day), ("all", month)):
            self.points[(member, *scope)] += points


def decide(rules: Rules, candidates: list[Candidate], usage: Usage, first_reports: dict[int, Earlier]) -> list[Decision]:
    """The points each candidate earns, in id order, given what was earned before. Pure."""
    decisions = []
    for c in sorted(candidates, key=lambda c: c.id):
        item = rules.item(c.item_id)
        if item is None:
            decisions.append(Decision(c.id, 0, "item_withdrawn"))
            continue
        if rules.first_reporter_only and c.id in first_reports:
            # the member's own second report of a problem is not "someone else's first"
            decisions.append(Decision(c.id, 0, "duplicate_own" if first_reports[c.id].own else "duplicate"))
            continue
        month = (c.local_day.year, c.local_day.month)
        units, note = c.units, ""
        for cap, key, code in ((item.daily_cap, c.local_day, "cap.item_daily"),
                               (item.monthly_cap, month, "cap.item_monthly")):
            if cap is not None:
                room = max(0, cap - usage.units[(c.member, "item", item.id, key)])
                if room < units:
                    units, note = room, code
        points = item.points * units
        category = rules.category(item.category)
        for cap, key, code in ((category.daily_cap, ("category", item.category, c.local_day), "cap.category_daily"),
                               (category.monthly_cap, ("category", item.category, month), "cap.category_monthly"),
                               (rules.daily_cap, ("all", c.local_day), "cap.daily"),
                               (rules.monthly_cap, ("all", month), "cap.monthly")):
            if cap is not None:
                room = max(0, cap - usage.points[(c.member, *key)])
                if room < points:
                    points, note = room, code
        if points > 0:
            usage.add(c.member, item.id, item.category, c.local_day, units, points)
        decisions.append(Decision(c.id, points, note))
    return decisions


# What counts against a member's caps: their reports awarded with points. A look ahead (may a member sign up
# for a task worth more units?) also counts the reports verified and waiting for their award, which will be.
COUNTED = "(status = {} AND points > 0)"
COUNTED_AHEAD = "((status = {} AND points > 0) OR status = {})"


async def units_counted(member_id: int, item_id: str, since: date, until: date) -> int:
    """The units of an item that count against a member's caps on the local days [since, until), looking
    ahead: the one count of a member's cap usage outside the award itself (which counts the same rows)."""
    rows = await sql("SELECT COALESCE(SUM(units), 0) AS n FROM submission WHERE member = {} AND item_id = {} "
                     f"AND local_day >= {{}} AND local_day < {{}} AND {COUNTED_AHEAD}", member_id, item_id, since,
                     until, SubmissionStatus.AWARDED, SubmissionStatus.VERIFIED)
    return rows[0]["n"]


async def _usage(rules: Rules, members: list[int], since: date) -> Usage:
    usage = Usage()
    rows = await sql(
        "SELECT member, item_id, local_day, SUM(units) AS units, SUM(points) AS points FROM submission "
        f"WHERE {COUNTED} AND local_day >= {{}} AND member IN ({marks(members)}) "
        "GROUP BY member, item_id, local_day", SubmissionStatus.AWARDED, since, *members)
    for r in rows:
        item = rules.item(r["item_id"])
        day = r["local_day"] if isinstance(r["local_day"], date) else date.fromisoformat(r["local_day"])
        usage.add(r["member"], r["item_id"], item.category if item else "", day, r["units"], r["points"])
    return usage


async def award_batch(rules: Rules, limit: int, ids: list[int] | None = None, community: int | None = None) -> int:
    """Award up to `limit` verified submissions (oldest first, or those in `ids`; of one `community`, whose
    scheme `rules` is, when given); return how many."""

    async def run() -> int:
        only = f" AND id IN ({marks(ids)})" if ids else ""
        only += " AND community = {}" if community is not None else ""
        # A batch approval's reports wait out its undo window (points/reports/review.py); the sweep awards them after.
        rows = await sql("SELECT id, member, community, item_id, units, local_day FROM submission "
                         "WHERE status = {} AND (award_after IS NULL OR award_after <= {})"
                         f"{only} ORDER BY id LIMIT {{}}{skip_locked_sql()}",
                         SubmissionStatus.VERIFIED, clock.now(), *(ids or []),
                         *([community] if community is not None else []), limit)
        if not rows:
            return 0
        candidates = [Candidate(r["id"], r["member"], r["community"], r["item_id"], r["units"],
                                r["local_day"] if isinstance(r["local_day"], date)
                                else date.fromisoformat(r["local_day"])) for r in rows]
        members = sorted({c.member for c in candidates})
        accounts = await ledger.lock_members(members)
        first_day = min(c.local_day for c in candidates).replace(day=1)
        decisions = decide(rules, candidates, await _usage(rules, members, first_day),
                           await earlier_reports(rules, [c.id for c in candidates]))
        await _record(rules, candidates, decisions, accounts)
        return len(candidates)

    return await write(run)


async def _record(rules: Rules, candidates: list[Candidate], decisions: list[Decision],
                  accounts: list[dict[str, Any]]) -> None:
    now = clock.now()
    values, args = values_list([(d.id, d.points, d.note) for d in decisions], ("INTEGER", "INTEGER", "TEXT"))
    updated = await sql(
        f"WITH v(id, points, note) AS (VALUES {values}) "
        "UPDATE submission SET status = {}, points = v.points, award_note = v.note, "
        "award_rules_version = {}, awarded_at = {} FROM v "
        "WHERE submission.id = v.id AND submission.status = {} RETURNING submission.id",
        *args, SubmissionStatus.AWARDED, rules.version, now, SubmissionStatus.VERIFIED)
    if len(updated) != len(decisions):
        raise RuntimeError("a submission in the batch changed state under its lock")

    account = {(a["member"], a["kind"]): a["id"] for a in accounts}
    minting = await ledger.accounts_by_key(
        ledger.community_account_key(kind, c.community) for c in candidates for kind in MINTING_KINDS)
    by_id = {c.id: c for c in candidates}
    transfers = []
    for d in decisions:
        if d.points <= 0:
            continue
        c = by_id[d.id]
        item = rules.item(c.item_id)
        reason = f"{item.name_zh} / {item.name_en}" + (f" ×{c.units}" if c.units > 1 else "")
        if d.note:
            reason += f" ({d.note})"
        for kind, source in ((SPENDABLE, ledger.ISSUANCE), (LIFETIME, LIFETIME_ISSUANCE)):
            transfers.append(TransferSpec(
                key=award_key(c.id, lifetime=kind == LIFETIME),
                debit=minting[ledger.community_account_key(source, c.community)],
                credit=account[(c.member, kind)], amount=d.points, code=TransferCode.AWARD, reason=reason,
                ref=submission_ref(c.id), rules_version=rules.version))
    transfers += _settlements(decisions, by_id, accounts, account)
    written = await ledger.post(transfers)
    await honours.add_to_month(rules, [(by_id[d.id].community, by_id[d.id].member, d.points) for d in decisions
                                       if award_key(d.id) in written], now)
    await _promotions(rules, candidates, decisions, accounts)
    # The problem goes on to be fixed: a case for each report that is not a second report of it.
    firsts = [by_id[d.id] for d in decisions if d.note not in ("duplicate", "duplicate_own")]
    await cases.open_cases(rules, [{"id": c.id, "community": c.community, "item_id": c.item_id} for c in firsts])
    # 推荐: a referred member's first real report pays whoever referred them (filed here, awarded next)
    await referrals.reward(rules, [{"member": c.member, "item_id": c.item_id, "local_day": c.local_day}
                                   for c in firsts])


def _settlements(decisions: list[Decision], by_id: dict[int, Candidate], accounts: list[dict[str, Any]],
                 account: dict[tuple[int, str], int]) -> list[TransferSpec]:
    """Debts (points owed after a clawback) are paid first out of each new award."""
    owed = {a["member"]: -a["balance"] for a in accounts if a["kind"] == DEBT and a["balance"] < 0}
    settle = []
    for d in decisions:
        member = by_id[d.id].member
        amount = min(d.points, owed.get(member, 0))
        if amount > 0:
            owed[member] -= amount
            settle.append(TransferSpec(
                key=settle_key(submission_ref(d.id)), debit=account[(member, SPENDABLE)],
                credit=account[(member, DEBT)], amount=amount, code=TransferCode.SETTLE, reason=both("ledger", "settle"),
                ref=submission_ref(d.id)))
    return settle


async def _promotions(rules: Rules, candidates: list[Candidate], decisions: list[Decision],
                      accounts: list[dict[str, Any]]) -> None:
    """An audit row for each member whose star level these awards raised."""
    gained: dict[int, int] = defaultdict(int)
    community = {c.member: c.community for c in candidates}
    by_id = {c.id: c for c in candidates}
    for d in decisions:
        gained[by_id[d.id].member] += max(d.points, 0)
    promoted = []
    for a in accounts:
        if a["kind"] == LIFETIME and gained[a["member"]]:
            before, after = a["balance"], a["balance"] + gained[a["member"]]
            if honours.stars(rules, after) > honours.stars(rules, before):
                promoted.append((None, "member.promote", "member", a["member"], community[a["member"]],
                                 {"stars_from": honours.stars(rules, before), "stars_to": honours.stars(rules, after),
                                  "lifetime": after}))
    await audit.record_many(promoted)  # one statement for the batch


async def reconcile_awards() -> list[str]:
    """Every awarded (or since reversed) submission's points match its transfer, no transfer lacks its
    submission, and a reversed award was taken back in full (from the balance and as debt).

    Plain scans compared here, so the check stays linear whatever the planner believes.
    """
    rows = await sql("SELECT id, points, status FROM submission WHERE status IN ({}, {})", SubmissionStatus.AWARDED,
                     SubmissionStatus.REVERSED)
    awarded = {r["id"]: r["points"] or 0 for r in rows}
    reversed_ = {r["id"] for r in rows if r["status"] == SubmissionStatus.REVERSED}
    paid: dict[int, int] = {}
    taken: dict[int, int] = defaultdict(int)
    problems = []
    for r in await sql("SELECT idempotency_key, ref, amount, code FROM transfer "
                       "WHERE code IN ({}, {}) AND ref LIKE 'submission:%'", TransferCode.AWARD, TransferCode.REVERSAL):
        sid = parse_ref(r["ref"]).id
        if sid not in awarded or (r["code"] == TransferCode.REVERSAL and sid not in reversed_):
            problems.append(f"transfer {r['idempotency_key']}: no {r['code']}ed submission behind it")
        elif is_lifetime_key(r["idempotency_key"]):
            continue
        elif r["code"] == TransferCode.AWARD:
            paid[sid] = r["amount"]
        else:
            taken[sid] += r["amount"]
    for sid, points in awarded.items():
        if points != paid.get(sid, 0):
            problems.append(f"submission {sid}: awarded {points} points but its transfer says {paid.get(sid)}")
        if sid in reversed_ and taken[sid] != points:
            problems.append(f"submission {sid}: reversed, but {taken[sid]} of its {points} points were taken back")
    return problems
