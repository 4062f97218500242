"""延期: a unit asks for more time on a case, within its hard limit, and staff grant or refuse it (each a
timeline event beside the state it leaves as it is)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from points import audit, clock, scope
from points.cases.reading import HANDLER_STATES, view
from points.cases.workflow import A, checked_note, record_event, require
from points.clock import aware
from points.errors import Conflict, Invalid, checked
from points.infra.db import sql, write
from points.scope import Actor
from rules import fields


async def ask_extension(actor: Actor, case_id: int, until: datetime, reason: str) -> dict[str, Any]:
    """The unit asks for more time, with a reason: never past the hard limit. Staff grant or refuse it."""
    require(actor, A.ACCEPT)  # the unit's handlers, as they accept
    reason = checked_note(reason)
    checked(fields.MOMENT, "until", until)

    async def run() -> None:
        row = await scope.case(actor, case_id)
        if row["state"] not in HANDLER_STATES:
            raise Conflict("wrong_state", f"a case that is {row['state']} has no deadline to extend", field="state",
                           state=row["state"])
        if until <= aware(row["deadline"]) or until > aware(row["hard_deadline"]):
            raise Invalid("extension_out_of_range", "ask for a time after the deadline and no later than the hard "
                          "limit", field="until", deadline=str(row["deadline"]), hard_deadline=str(row["hard_deadline"]))
        now = clock.now()
        await sql("UPDATE case_file SET extension_until = {}, extension_reason = {}, updated_at = {} WHERE id = {} "
                  "RETURNING id", until, reason, now, case_id)
        await record_event(case_id, A.ASK_EXTENSION, row["state"], actor.id, row["unit"], reason, now)
        await audit.record(actor.id, "case.ask_extension", "case", case_id, row["community"],
                           {"until": until.isoformat(), "reason": reason[:200]})

    await write(run)
    return await view(actor, case_id)


async def decide_extension(actor: Actor, case_id: int, grant: bool, note: str = "") -> dict[str, Any]:
    """Staff grant the extension asked (the deadline moves to it) or refuse it (the deadline stands)."""
    require(actor, A.DISPATCH)
    note = checked_note(note, required=not grant)

    async def run() -> None:
        row = await scope.case(actor, case_id)
        if row["extension_until"] is None or row["state"] not in HANDLER_STATES:
            raise Conflict("no_extension_asked", "no extension is waiting for a decision", field="state")
        now = clock.now()
        moved = {"deadline": row["extension_until"]} if grant else {}
        sets = {"extension_until": None, "extension_reason": "", "updated_at": now, **moved}
        assignments = ", ".join(f"{column} = {{}}" for column in sets)
        # Conditional on the very request read: of decisions made at once, one takes it; the rest find none.
        if not await sql(f"UPDATE case_file SET {assignments} WHERE id = {{}} AND extension_until IS NOT NULL "
                         "RETURNING id", *sets.values(), case_id):
            raise Conflict("no_extension_asked", "no extension is waiting for a decision", field="state")
        action = A.GRANT_EXTENSION if grant else A.REFUSE_EXTENSION
        await record_event(case_id, action, row["state"], actor.id, row["unit"], note, now)
        await audit.record(actor.id, f"case.{action}", "case", case_id, row["community"],
                           {"until": str(row["extension_until"]), **({"note": note[:200]} if note else {})})

    await write(run)
    return await view(actor, case_id)
