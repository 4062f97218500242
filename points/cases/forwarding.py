"""Units reached through outside systems (智网, the 12345 hotline, a district platform): an admin links a unit to
one, and cases dispatched to that unit go there through the outbox (points/cases/outbox.py); what the system sends
back moves the case through the same state machine as the unit's own handlers (points/cases/workflow.py), once.

Two kinds (ForwardKind):
- ``webhook``: each case event is POSTed as signed JSON (points/infra/wire.py); the system answers with signed
  callbacks (`callback`) to accept, return or dispose of the case, each with an event id applied once;
- ``georeport``: we are an Open311 GeoReport v2 client — a dispatch POSTs a request to their server, and the
  sweep polls its status (`poll`): their request open → accepted, closed → disposed (with their status notes).
Each forwarding acts through a service account of its unit (a handler no person signs in as), so the case's
timeline and audit say who moved it. With `auto_dispatch`, every new case of the communities the unit serves is
dispatched to it as it opens — a community that forwards all its cases.
"""

from __future__ import annotations

import json
import logging
import secrets
import urllib.parse
from typing import Any

from points import audit, clock, scope
from points.areas import schemes
from points.cases import outbox, units
from points.cases import workflow as cases
from points.errors import Conflict, Invalid, NotFound, Unauthenticated, checked
from points.infra.db import Unavailable, marks, sql, write
from points.infra.outbound import OutboundError, check_url, fetch
from points.infra.wire import signature_holds
from points.ledger import transfers as ledger
from points.scope import Actor
from points.vocabulary import (
    SERVICE_PHONE_PREFIX,
    CaseAction,
    CaseState,
    ForwardKind,
    MemberStatus,
    OutboxState,
    Role,
)
from rules import fields

log = logging.getLogger(__name__)
SECRET_PREFIX = "whsec_"
POLL_AT_ONCE = 50  # service_request_ids per GET requests


async def configure(actor: Actor, unit_id: int, kind: str, url: str, secret: str = "", service_code: str = "",
                    jurisdiction: str = "", auto_dispatch: bool = False) -> dict[str, Any]:
    """Link a unit to its outside system, or change the link. A webhook's secret is made here unless given, and
    shown in this answer only; a GeoReport server's api_key is theirs to give."""
    scope.require_admin(actor, "link units to outside systems")
    if kind not in set(ForwardKind):
        raise Invalid("invalid_choice", f"kind must be one of {', '.join(ForwardKind)}", field="kind")
    url = checked(fields.FORWARD_URL, "url", (url or "").strip())
    try:
        check_url(url)
    except OutboundError as exc:
        raise Invalid("url_not_allowed", f"url: {exc}; an operator allows internal networks with "
                      "JIFEN_OUTBOUND_ALLOW", field="url") from None
    if kind == ForwardKind.WEBHOOK and not secret:
        secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    secret = checked(fields.FORWARD_SECRET, "secret", secret)
    service_code = checked(fields.SERVICE_CODE, "service_code", (service_code or "").strip())
    jurisdiction = checked(fields.SERVICE_CODE, "jurisdiction", (jurisdiction or "").strip())

    async def run() -> int:
        served = await scope.served_by(actor, unit_id)
        now = clock.now()
        settings = {"kind": kind, "url": url, "secret": secret, "service_code": service_code,
                    "jurisdiction": jurisdiction, "auto_dispatch": auto_dispatch}
        existing = await sql("SELECT id FROM forwarding WHERE unit = {}", unit_id)
        if existing:
            fid = existing[0]["id"]
            await sql("UPDATE forwarding SET kind = {}, url = {}, secret = {}, service_code = {}, jurisdiction = {}, "
                      "auto_dispatch = {}, disabled_at = NULL WHERE id = {}", *settings.values(), fid)
        else:
            member = await sql("INSERT INTO member (community, role, name, phone, password_hash, building, status, "
                               "status_reason, session_epoch, unit, created_at) VALUES ({}, {}, {}, {}, '!', '', {}, "
                               "'', 0, {}, {}) RETURNING id", served[0]["community"], Role.HANDLER,
                               served[0]["name"][:fields.PERSON_NAME.max_length], f"{SERVICE_PHONE_PREFIX}{secrets.token_hex(8)}",
                               MemberStatus.ACTIVE, unit_id, now)
            await ledger.open_member_accounts(member[0]["id"], served[0]["community"])
            fid = (await sql("INSERT INTO forwarding (unit, kind, url, secret, service_code, jurisdiction, "
                             "auto_dispatch, member, created_at) VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {}) "
                             "RETURNING id", unit_id, *settings.values(), member[0]["id"], now))[0]["id"]
        await audit.record(actor.id, "forwarding.configure", "forwarding", fid, served[0]["community"],
                           {"unit": unit_id, "kind": kind, "host": urllib.parse.urlsplit(url).netloc,
                            "auto_dispatch": auto_dispatch})
        return fid

    fid = await write(run)
    return {**(await listing(actor, fid))[0], "secret": secret}


async def disable(actor: Actor, forwarding_id: int) -> dict[str, Any]:
    """Stop forwarding: nothing new is recorded or sent; the unit's cases are then its handlers' again."""
    scope.require_admin(actor, "link units to outside systems")

    async def run() -> None:
        row = (await listing(actor, forwarding_id))[0]
        if await sql("UPDATE forwarding SET disabled_at = {} WHERE id = {} AND disabled_at IS NULL RETURNING id",
                     clock.now(), forwarding_id):
            await outbox.park_link(forwarding_id, "the link was disabled")
            await audit.record(actor.id, "forwarding.disable", "forwarding", forwarding_id, None, {"unit": row["unit"]})

    await write(run)
    return (await listing(actor, forwarding_id))[0]


async def listing(actor: Actor, forwarding_id: int | None = None) -> list[dict[str, Any]]:
    """The links an admin may see (never their secrets), with how their events stand."""
    scope.require_admin(actor, "link units to outside systems")
    where, args = scope.clause(actor, "uc.community")
    if forwarding_id is not None:
        where, args = where + " AND f.id = {}", [*args, forwarding_id]
    rows = await sql("SELECT DISTINCT f.id, f.unit, u.name AS unit_name, f.kind, f.url, f.service_code, "
                     "f.jurisdiction, f.auto_dispatch, f.created_at, f.disabled_at FROM forwarding f "
                     "JOIN unit u ON u.id = f.unit JOIN unit_community uc ON uc.unit = f.unit WHERE true" + where +
                     " ORDER BY f.id", *args)
    if not rows:
        if forwarding_id is not None:
            raise NotFound("forwarding")
        return []
    counts: dict[tuple[int, str], int] = {(r["forwarding"], r["state"]): r["n"] for r in await sql(
        f"SELECT forwarding, state, COUNT(*) AS n FROM outbox_event WHERE forwarding IN ({marks(rows)}) "
        "GROUP BY forwarding, state", *[r["id"] for r in rows])}
    return [{**r, "auto_dispatch": bool(r["auto_dispatch"]),
             "events": {s.value: counts.get((r["id"], s.value), 0) for s in OutboxState}} for r in rows]


async def _enabled(forwarding_id: int, kind: str | None = None) -> dict[str, Any]:
    rows = await sql("SELECT * FROM forwarding WHERE id = {} AND disabled_at IS NULL", forwarding_id)
    if not rows or (kind and rows[0]["kind"] != kind):
        raise NotFound("forwarding")
    return rows[0]


# ------------------------------------------------------------------ what comes back


async def callback(forwarding_id: int, timestamp: str, given_signature: str, body: bytes) -> dict[str, Any]:
    """A webhook system's signed word on a case: {"event_id", "case", "action": accept|return|dispose, "note"}.
    Applied once per event id (a replay answers `applied: false`); refused (401) unsigned, wrongly signed or
    stale; 404 for a case not with this unit; 409 when the case is not in a state the action leaves."""
    forwarding = await _enabled(forwarding_id, ForwardKind.WEBHOOK)
    if not signature_holds(forwarding["secret"], timestamp or "", given_signature or "", body, clock.timestamp()):
        raise Unauthenticated("bad_signature", "X-Jifen-Signature does not sign this body at X-Jifen-Timestamp "
                              "(or the timestamp is more than 5 minutes away)")
    event, case_id, action, note = _parsed_callback(body)
    actor = await units.service_actor(forwarding["member"])

    async def run() -> bool:
        rows = await sql("SELECT * FROM case_file WHERE id = {} AND unit = {}", case_id, forwarding["unit"])
        if not rows:
            raise NotFound("case")
        if not await sql("INSERT INTO inbound_event (key, forwarding, \"case\", action, received_at) VALUES "
                         "({}, {}, {}, {}, {}) ON CONFLICT (key) DO NOTHING RETURNING id",
                         f"{forwarding_id}:{event}", forwarding_id, case_id, action, clock.now()):
            return False
        await cases.move_for_unit(actor, await schemes.for_community(rows[0]["community"]), rows[0], action, note)
        return True

    applied = await write(run)
    state = (await sql("SELECT state FROM case_file WHERE id = {}", case_id))[0]["state"]
    return {"applied": applied, "event_id": event, "case": case_id, "state": state}


def _parsed_callback(body: bytes) -> tuple[str, int, str, str]:
    try:
        data = json.loads(body)
    except ValueError:
        raise Invalid("invalid_json", "the body is not JSON") from None
    if not isinstance(data, dict):
        raise Invalid("invalid_json", "the body is not a JSON object")
    event = checked(fields.EVENT_ID, "event_id", data.get("event_id", ""))
    case_id = data.get("case")
    if not isinstance(case_id, int) or isinstance(case_id, bool) or not fields.ID.low <= case_id <= fields.ID.high:
        raise Invalid("invalid_input", "case must be a case id", field="case")
    action = data.get("action")
    if action not in cases.HANDLER_ACTIONS:
        raise Invalid("invalid_choice", f"action must be one of {', '.join(cases.HANDLER_ACTIONS)}", field="action")
    note = data.get("note", "")
    if not isinstance(note, str):
        raise Invalid("invalid_input", "note must be text", field="note")
    return event, case_id, action, note


async def poll() -> int:
    """Read the status of every open case sent to an Open311 server, and move each once: their request open →
    accepted, closed → disposed with their status notes. Returns how many cases moved. A server that does not
    answer is skipped until the next sweep."""
    moved = 0
    for forwarding in await sql("SELECT * FROM forwarding WHERE kind = {} AND disabled_at IS NULL",
                                ForwardKind.GEOREPORT):
        # Each open case's latest request there (a reopened case was sent again, as a new request).
        sent = await sql("SELECT c.id, e.id AS event, e.remote_id FROM case_file c JOIN outbox_event e "
                         "ON e.\"case\" = c.id WHERE c.unit = {} AND c.state IN ({}, {}) AND e.forwarding = {} "
                         "AND e.remote_id <> '' AND e.id = (SELECT MAX(l.id) FROM outbox_event l "
                         "WHERE l.\"case\" = c.id AND l.forwarding = {})", forwarding["unit"], CaseState.DISPATCHED,
                         CaseState.ACCEPTED, forwarding["id"], forwarding["id"])
        case_of = {await _request_id(forwarding, r): r["id"] for r in sent}
        case_of.pop(None, None)
        remote = list(case_of)
        for start in range(0, len(remote), POLL_AT_ONCE):
            try:
                statuses = await _statuses(forwarding, remote[start:start + POLL_AT_ONCE])
            except OutboundError as exc:
                log.warning("forwarding %d: could not read request statuses (%s)", forwarding["id"], exc)
                break
            for status in statuses:
                case_id = case_of.get(str(status.get("service_request_id")))
                if case_id is None:
                    continue
                try:
                    moved += await _follow(forwarding, case_id, status)
                except Unavailable:
                    raise
                except Exception as exc:  # their answer for this case: recorded against it, the rest go on
                    log.warning("forwarding %d: case %d's status was not applied (%s: %s)", forwarding["id"],
                                case_id, type(exc).__name__, exc)
                    await write(lambda f=forwarding["id"], c=case_id: sql(
                        "UPDATE outbox_event SET last_error = {} WHERE id = (SELECT MAX(id) FROM outbox_event "
                        "WHERE forwarding = {} AND \"case\" = {})", "their status could not be applied", f, c))
    return moved


async def _request_id(forwarding: dict[str, Any], sent: dict[str, Any]) -> str | None:
    """The service_request_id of a request sent: as their server gave it, or looked up by the token it gave
    instead (GET tokens/{token}) and kept once known; None while they have not named it."""
    if not sent["remote_id"].startswith(outbox.TOKEN_PREFIX):
        return sent["remote_id"]
    token = sent["remote_id"].removeprefix(outbox.TOKEN_PREFIX)
    query = {"jurisdiction_id": forwarding["jurisdiction"]} if forwarding["jurisdiction"] else {}
    try:
        answer = await fetch("GET", f"{forwarding['url'].rstrip('/')}/tokens/{urllib.parse.quote(token, safe='')}.json"
                            + (f"?{urllib.parse.urlencode(query)}" if query else ""))
        named = str(json.loads(answer.body)[0].get("service_request_id") or "")[:64]
    except (OutboundError, ValueError, LookupError, TypeError, AttributeError) as exc:
        log.warning("forwarding %d: could not look up token %s (%s)", forwarding["id"], token[:20], exc)
        return None
    if not named:
        return None
    await write(lambda: sql("UPDATE outbox_event SET remote_id = {} WHERE id = {}", named, sent["event"]))
    return named


async def _statuses(forwarding: dict[str, Any], ids: list[str]) -> list[dict[str, Any]]:
    query = {"service_request_id": ",".join(ids)}
    if forwarding["jurisdiction"]:
        query["jurisdiction_id"] = forwarding["jurisdiction"]
    answer = await fetch("GET", forwarding["url"].rstrip("/") + "/requests.json?" + urllib.parse.urlencode(query))
    try:
        statuses = json.loads(answer.body)
    except ValueError:
        raise OutboundError("the Open311 server's answer is not JSON") from None
    if not isinstance(statuses, list):
        raise OutboundError("the Open311 server's answer is not a list of requests")
    return [s for s in statuses if isinstance(s, dict)]


async def _follow(forwarding: dict[str, Any], case_id: int, status: dict[str, Any]) -> int:
    """Take a case as far as their request's status says, once: each move is conditional on the state."""
    actor = await units.service_actor(forwarding["member"])
    closed = status.get("status") == "closed"
    notes = fields.CASE_NOTE.cleaned(str(status.get("status_notes") or "").strip()).strip() or "closed"

    async def run() -> int:
        steps = 0
        for action in (CaseAction.ACCEPT, CaseAction.DISPOSE) if closed else (CaseAction.ACCEPT,):
            row = (await sql("SELECT * FROM case_file WHERE id = {} AND unit = {}", case_id, forwarding["unit"]))
            if not row or row[0]["state"] not in cases.TRANSITIONS[action][0]:
                continue
            await cases.move_for_unit(actor, await schemes.for_community(row[0]["community"]), row[0], action, notes)
            steps += 1
        return steps

    try:
        return await write(run)
    except Conflict:  # moved by someone else just now: the next poll looks again
        return 0
