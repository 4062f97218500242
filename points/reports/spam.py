"""恶意重复刷报: the sweep's penalty for a member who reports one problem again and again on one day.

A problem is a first report and the reports marked its duplicates (`duplicate_of`, points/reports/intake.py).
A member with `[scheme.duplicates] spam_per_day` or more reports of one problem on one local day — whatever
staff made of them — is given `penalty.spam_duplicates` once for that day (ledger key `vocabulary.spam_key`,
written under the member's lock after looking for it), with the day and the count in its reason. A scheme
without the item gives none. Staff reverse it as any deduction (a compensating transfer)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from points import audit, clock
from points.infra.db import marks, sql, write
from points.ledger import transfers as ledger
from points.reports.reversals import take_back
from points.vocabulary import TransferCode, member_ref, owed_key, spam_key
from rules import Rules
from rules.loader import SPAM_ITEM

ITEM = SPAM_ITEM
DAYS_LOOKED_AT = 3  # today and the two days before: a late sweep still finds a day


async def record_spam_penalties(rules: Rules, limit: int = 500, communities: list[int] | None = None) -> int:
    """Penalise each member-day over the threshold once (of the `communities` running `rules`; all when not
    given). Run it any number of times."""
    item = rules.item(ITEM)
    if item is None or communities == []:
        return 0
    since = rules.local_date(clock.now()) - timedelta(days=DAYS_LOOKED_AT - 1)
    start = datetime.combine(since, time(), rules.tz)  # the reports of those days, off (community, submitted_at)
    only = f" AND community IN ({marks(communities)})" if communities else ""
    rows = await sql("SELECT member, community, local_day, COALESCE(duplicate_of, id) AS problem, COUNT(*) AS n "
                     f"FROM submission WHERE submitted_at >= {{}} AND local_day >= {{}}{only} "
                     "GROUP BY member, community, local_day, COALESCE(duplicate_of, id) HAVING COUNT(*) >= {} "
                     "ORDER BY member, local_day LIMIT {}",
                     start, since, *(communities or []), rules.duplicates.spam_per_day, limit)
    recorded = 0
    for r in {(r["member"], str(r["local_day"])): r for r in rows}.values():  # one per member-day
        recorded += await write(lambda r=r: _penalise(rules, item, r))
    return recorded


async def _penalise(rules: Rules, item: Any, row: dict[str, Any]) -> bool:
    day = row["local_day"] if isinstance(row["local_day"], date) else date.fromisoformat(str(row["local_day"]))
    key = spam_key(row["member"], day)
    await ledger.lock_members([row["member"]])
    if await sql("SELECT 1 FROM transfer WHERE idempotency_key IN ({}, {})", key, owed_key(key)):
        return False
    await take_back(row["member"], row["community"], -item.points, key, TransferCode.DEDUCTION,
                    f"{item.name_zh} / {item.name_en}: {day.isoformat()} ×{row['n']}",
                    member_ref(row["member"], item.id), rules.version)
    await audit.record(None, "member.spam_penalty", "member", row["member"], row["community"],
                       {"day": day.isoformat(), "reports": int(row["n"]), "points": item.points})
    return True
