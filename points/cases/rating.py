"""回访: the reporter rates how their problem was handled, once, within the rules' days of its closing; a case
rated unsatisfied goes back to its unit, once."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from points import audit, clock, scope
from points.cases.reading import UNSATISFIED, view
from points.cases.workflow import A, S, checked_note, record_event, require, send_to_unit
from points.clock import aware
from points.errors import Conflict, checked
from points.infra.db import sql, write
from points.scope import Actor
from points.vocabulary import FINISHED_CASE_STATES
from rules import Rules, fields


async def reopen_unsatisfied(actor: Actor, rules: Rules, case_id: int, note: str) -> dict[str, Any]:
    """A closed case its reporter rated unsatisfied (1 or 2) goes back to its unit, once."""
    require(actor, A.REOPEN)
    note = checked_note(note)

    async def run() -> None:
        row = await scope.case(actor, case_id)
        if row["state"] != S.CLOSED or row["rating"] is None or row["rating"] > UNSATISFIED:
            raise Conflict("not_unsatisfied", "only a closed case its reporter rated 1 or 2 is reopened so",
                           field="state")
        again = await sql("SELECT id FROM case_event WHERE \"case\" = {} AND action = {} AND created_at > {}",
                          case_id, A.REOPEN, row["rated_at"])
        if again:
            raise Conflict("reopened_already", "a case is reopened once after its rating", field="state")
        await send_to_unit(actor, rules, row, A.REOPEN, row["unit"], note, note=note, reopened=row["reopened"] + 1)

    await write(run)
    return await view(actor, case_id)


async def rate(actor: Actor, rules: Rules, case_id: int, stars: int, comment: str = "") -> dict[str, Any]:
    """The reporter rates how their problem was handled: 1–5 and a comment, once, within the rules'
    `rate_days` of its closing."""
    scope.require_reporter(actor, "rate a case: its reporter", "reporters_only")
    checked(fields.RATING, "stars", stars)
    comment = checked(fields.NOTE, "comment", (comment or "").strip())

    async def run() -> None:
        row = await scope.case(actor, case_id)
        if row["state"] not in FINISHED_CASE_STATES:
            raise Conflict("wrong_state", "a case is rated once it is closed", field="state", state=row["state"])
        closed = (await sql("SELECT MAX(created_at) AS at FROM case_event WHERE \"case\" = {} AND action IN "
                            "({}, {})", case_id, A.CLOSE, A.RESOLVE))[0]["at"]
        if clock.now() - aware(closed) > timedelta(days=rules.cases.rate_days):
            raise Conflict("rating_too_late", f"a case is rated within {rules.cases.rate_days} days of closing",
                           field="stars", days=rules.cases.rate_days)
        now = clock.now()
        done = await sql("UPDATE case_file SET rating = {}, rating_comment = {}, rated_at = {}, updated_at = {} "
                         "WHERE id = {} AND rated_at IS NULL RETURNING id", stars, comment, now, now, case_id)
        if not done:
            raise Conflict("rated_already", "this case has its rating", field="stars")
        await record_event(case_id, A.RATE, row["state"], actor.id, row["unit"], "", now)
        await audit.record(actor.id, "case.rate", "case", case_id, row["community"], {"stars": stars})

    await write(run)
    return await view(actor, case_id)
