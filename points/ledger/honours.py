"""Honours: star levels from lifetime points, and the monthly honour board.

Neither costs spendable points. A star level is read off the lifetime balance
with the rules file's thresholds; a promotion is written to the audit log in
the transaction of the award that earned it. The board ranks members by points
earned in a month (ties to whoever got there first); once a month is over its
board is kept as it stood.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from points import clock
from points.errors import Invalid
from points.infra.db import marks, sql, values_list, write
from points.ledger.transfers import SPENDABLE
from points.scope import Actor
from points.tables import HonourBoard
from points.vocabulary import SERVICE_PHONE_PREFIX, TransferCode
from rules import Rules


def stars(rules: Rules, lifetime: int) -> int:
    return bisect_right(rules.honours.stars, lifetime)


def next_star(rules: Rules, lifetime: int) -> int | None:
    """Lifetime points needed for the next star, or None at the top."""
    level = stars(rules, lifetime)
    return rules.honours.stars[level] if level < len(rules.honours.stars) else None


def month_bounds(rules: Rules, month: str) -> tuple[datetime, datetime]:
    try:
        year, mon = (int(x) for x in month.split("-"))
        if not (len(month) == 7 and 1 <= mon <= 12 and 2000 <= year <= 9998):
            raise ValueError
    except ValueError:
        raise Invalid("invalid_month", "month must look like 2026-11", field="month") from None
    start = datetime(year, mon, 1, tzinfo=rules.tz)
    end = datetime(year + mon // 12, mon % 12 + 1, 1, tzinfo=rules.tz)
    return start.astimezone(UTC), end.astimezone(UTC)


def month_of(rules: Rules, moment: datetime) -> str:
    return f"{moment.astimezone(rules.tz):%Y-%m}"


def previous_month(month: str) -> str:
    year, mon = (int(x) for x in month.split("-"))
    return f"{year - (mon == 1)}-{(mon - 2) % 12 + 1:02d}"


async def add_to_month(rules: Rules, awards: list[tuple[int, int, int]], now: datetime) -> None:
    """In the award's transaction: add each (community, member, points) award to the member's month (the
    month of `now` in the scheme's calendar), which the standing board reads."""
    month, totals = month_of(rules, now), defaultdict(int)
    for community, member, points in awards:
        if points > 0:
            totals[(community, member)] += points
    if not totals:
        return
    rows = [(f"{c}:{month}:{m}", c, month, m, p, now) for (c, m), p in sorted(totals.items())]
    values, args = values_list(rows, ("TEXT", "INTEGER", "TEXT", "INTEGER", "BIGINT", "TIMESTAMPTZ"))
    await sql(f"INSERT INTO month_points (key, community, month, member, points, reached_at) SELECT v.* FROM "
              f"(VALUES {values}) AS v WHERE true ON CONFLICT (key) DO UPDATE SET "
              "points = month_points.points + excluded.points, reached_at = excluded.reached_at", *args)


async def reconcile_months() -> list[str]:
    """Each member's kept monthly points add up to the awards the ledger credited them."""
    kept = {(r["community"], r["member"]): int(r["points"]) for r in await sql(
        "SELECT community, member, SUM(points) AS points FROM month_points GROUP BY community, member")}
    awarded = {(r["community"], r["member"]): int(r["points"]) for r in await sql(
        "SELECT a.community, a.member, SUM(t.amount) AS points FROM transfer t JOIN account a ON a.id = t.credit_account "
        "WHERE t.code = {} AND a.kind = {} GROUP BY a.community, a.member", TransferCode.AWARD, SPENDABLE)}
    return [f"member {member} of community {community}: months keep {kept.get(key, 0)} points, awards say "
            f"{awarded.get(key, 0)}" for key in sorted(set(kept) | set(awarded))
            if kept.get(key, 0) != awarded.get(key, 0) for community, member in [key]]


async def _live_board(rules: Rules, community_id: int, month: str) -> list[dict[str, Any]]:
    """A month's standing board, from the points the award path keeps per member and month."""
    # A partner's API token files as a service account of the community (points/people/tokens.py): its points are the
    # partner's, and no person's place on the board.
    rows = await sql("SELECT p.member, p.points, p.reached_at FROM month_points p JOIN member m ON m.id = p.member "
                     "WHERE p.community = {} AND p.month = {} AND m.phone NOT LIKE {} "
                     "ORDER BY p.points DESC, p.reached_at, p.member LIMIT {}", community_id, month,
                     f"{SERVICE_PHONE_PREFIX}%", rules.honours.board_size)
    return [{"rank": n, "member": r["member"], "points": r["points"], "reached_at": r["reached_at"]}
            for n, r in enumerate(rows, 1)]


async def board(rules: Rules, community_id: int, month: str | None = None) -> list[dict[str, Any]]:
    """A month's board: the kept one for a finished month, the standing one for this month."""
    month = month or month_of(rules, clock.now())
    month_bounds(rules, month)
    kept = await sql("SELECT rank, member, points, reached_at FROM honour_board WHERE community = {} AND month = {} "
                     "ORDER BY rank", community_id, month)
    rows = kept or await _live_board(rules, community_id, month)
    names = {r["id"]: board_name(r["name"], r["board_name"]) for r in await sql(
        f"SELECT id, name, board_name FROM member WHERE id IN ({marks(rows) or 'NULL'})",
        *(r["member"] for r in rows))}
    return [{**r, "name": names.get(r["member"], "")} for r in rows]


async def standing(rules: Rules, actor: Actor) -> int | None:
    """The acting member's place on this month's standing board (None: not on it), in one query."""
    rows = await _live_board(rules, actor.community_id, month_of(rules, clock.now()))
    return next((r["rank"] for r in rows if r["member"] == actor.id), None)


BOARD_NAMES = ("masked", "full", "hidden")


def board_name(name: str, choice: str) -> str:
    """How a member chose to appear on the public board: masked (the default), in full, or not named ('')."""
    return name if choice == "full" else "" if choice == "hidden" else mask_name(name)


def mask_name(name: str) -> str:
    """陈骑手 → 陈**: a public board shows who, not exactly who."""
    return name[:1] + "*" * max(len(name) - 1, 1) if name else ""


async def keep_last_month(rules: Rules, now: datetime | None = None, communities: list[int] | None = None) -> int:
    """Keep each community's board for the month just ended (once), of the `communities` running `rules` (all
    when not given); return the rows written."""
    month = previous_month(month_of(rules, now or clock.now()))
    written = 0
    ids = communities if communities is not None else [c["id"] for c in await sql("SELECT id FROM community ORDER BY id")]
    for community in ids:
        rows = await _live_board(rules, community, month)

        async def run(rows: list[dict[str, Any]] = rows, cid: int = community) -> int:
            done = 0
            for r in rows:
                inserted = await HonourBoard.insert(HonourBoard(
                    key=f"{cid}:{month}:{r['rank']}", community=cid, month=month, rank=r["rank"],
                    member=r["member"], points=r["points"], reached_at=r["reached_at"],
                )).on_conflict(target=HonourBoard.key, action="DO NOTHING").returning(HonourBoard.id)
                done += len(inserted)
            return done

        if rows:
            written += await write(run)
    return written
