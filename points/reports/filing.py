"""Reports the engine files on a member's behalf — a task's confirmation, a referral's reward: verified from
the start, keyed by their one `idempotency_key` (vocabulary.py builds it), for the award job to award like any
report (caps applied, debts settled, the outcome in the member's history). Filed twice, they are filed once."""

from __future__ import annotations

from datetime import date

from points import clock
from points.infra.db import sql
from points.vocabulary import SubmissionStatus
from rules import Item, Rules


async def file_verified(rules: Rules, member_id: int, community_id: int, item: Item, units: int, description: str,
                        address: str, local_day: date, key: str, verified_by: int | None, note: str) -> int | None:
    """In the caller's transaction: the report, verified; its id, or None when `key` was filed before."""
    now = clock.now()
    rows = await sql(
        "INSERT INTO submission (member, community, item_id, claimed_item_id, units, priority, description, "
        "address, status, local_day, submitted_at, rules_version, idempotency_key, request_hash, verified_by, "
        "verified_at, verify_note, award_note, award_rules_version, reverse_reason) "
        "VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, '', {}, {}, {}, '', '', '') "
        "ON CONFLICT (idempotency_key) DO NOTHING RETURNING id",
        member_id, community_id, item.id, item.id, units, item.priority, description[:2000], address[:200],
        SubmissionStatus.VERIFIED, local_day, now, rules.version, key, verified_by, now, note)
    return rows[0]["id"] if rows else None
