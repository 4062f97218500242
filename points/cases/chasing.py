"""督办: the sweep's look at deadlines — a case past its deadline is chased once per deadline, one past its
hard limit escalated once, and the unit's handlers and the community's staff are told by text."""

from __future__ import annotations

from typing import Any

from points import clock
from points.cases.reading import HANDLER_STATES
from points.cases.workflow import A, record_event
from points.infra.db import marks, sql, write
from points.infra.sms import Sender
from points.vocabulary import SERVICE_PHONE_PREFIX, MemberStatus, Role
from points.wording import pair
from rules import Rules


async def chase(rules: Rules, sender: Sender) -> dict[str, int]:
    """The sweep's look at deadlines: a case in a unit's hands past its deadline is told once per deadline
    (a timeline event, and a text to the unit's handlers and the community's staff); one past its hard limit
    goes on the community head's list (escalated), once. Repeats find nothing more to do."""
    now, told, escalated = clock.now(), 0, 0
    late = await sql(f"SELECT * FROM case_file WHERE state IN ({marks(HANDLER_STATES)}) AND deadline < {{}}",
                     *HANDLER_STATES, now)
    for row in late:
        async def one(row: dict[str, Any] = row) -> tuple[bool, bool]:
            chased = await sql("UPDATE case_file SET chased_for = deadline WHERE id = {} AND deadline < {} AND "
                               "(chased_for IS NULL OR chased_for <> deadline) RETURNING id", row["id"], now)
            if chased:
                await record_event(row["id"], A.CHASE, row["state"], None, row["unit"], "", now)
            over = await sql("UPDATE case_file SET escalated = {} WHERE id = {} AND hard_deadline < {} AND escalated = {} "
                             "RETURNING id", True, row["id"], now, False)
            if over:
                await record_event(row["id"], A.ESCALATE, row["state"], None, row["unit"], "", now)
            return bool(chased), bool(over)

        chased, over = await write(one)
        told, escalated = told + chased, escalated + over
        if chased or over:
            phones = await sql("SELECT phone FROM member WHERE status = {} AND phone NOT LIKE {} AND "
                               "((role = {} AND unit = {}) OR (role = {} AND community = {}))",
                               MemberStatus.ACTIVE, f"{SERVICE_PHONE_PREFIX}%", Role.HANDLER, row["unit"], Role.STAFF, row["community"])
            words = " ".join(pair("sms", "case_escalated" if over else "case_overdue", case=str(row["id"])))
            for p in phones:
                await sender.send(p["phone"], words)
    return {"cases_chased": told, "cases_escalated": escalated}
