"""The outbox: case events owed to outside systems (points/cases/forwarding.py), written in the same transaction that
moved the case — so an event exists exactly when its move committed — and delivered after it.

Delivery guarantees:
- in order per case: only the oldest undelivered event of a (forwarding, case) is sent; the ones after it wait,
  also while it is parked;
- at least once on the wire, once in effect: every attempt of an event sends the same bytes with the same event
  id (``Idempotency-Key``), which a receiver de-duplicates on;
- a sender leases an event for longer than a send can take (JIFEN_OUTBOUND_SECONDS + LEASE_MARGIN_S) before
  sending it: one killed mid-delivery lets go when the lease ends, and the next pass sends it again;
- one send in flight per outside system: a system that hangs holds one sender for one bounded call, while the
  others are sent; a system that does not answer at all makes everything owed to it wait its back-off;
- a failure is tried again after BACKOFF_S (1 s doubling to 1 h, about 2 h in all); after the last one — or at
  once when the receiver refuses it for good (a 4xx other than 408, 425 and 429) — the event is parked with its
  error for staff to see and send again (`retry`).
Any process may run `deliver_due` at any time, as often as it likes: the jobs do after each move, and the sweep
finds what a lost job left.
"""

from __future__ import annotations

import asyncio
import json
import logging
import urllib.parse
from contextvars import ContextVar
from datetime import timedelta
from typing import Any

from points import audit, clock, scope
from points.areas import schemes
from points.clock import aware
from points.errors import Conflict, NotFound
from points.infra import metrics
from points.infra.config import settings
from points.infra.db import sql, write
from points.infra.outbound import OutboundError, fetch
from points.infra.wire import signature
from points.scope import Actor
from points.vocabulary import CaseAction, ForwardKind, OutboxState

log = logging.getLogger(__name__)
BACKOFF_S = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 3600)
LEASE_MARGIN_S = 15  # a lease outlives the longest send (JIFEN_OUTBOUND_SECONDS) by this much
BATCH = 50
SENDING_AT_ONCE = 8
PASS_BUDGET_S = 120.0
RETRYABLE_4XX = (408, 425, 429)
TOKEN_PREFIX = "token:"  # a remote id that is an Open311 server's token, until it names the request
GEOREPORT_ACTIONS = (CaseAction.DISPATCH, CaseAction.REOPEN)  # an Open311 server is told of a case by a new request; nothing else
_HEADS = ("FROM outbox_event e WHERE e.state = {} AND NOT EXISTS (SELECT 1 FROM outbox_event p "
          "WHERE p.forwarding = e.forwarding AND p.\"case\" = e.\"case\" AND p.id < e.id AND p.state <> {})")
# One send in flight per outside system (across every process): a system that hangs holds one sender, never all.
_IDLE_LINK = ("NOT EXISTS (SELECT 1 FROM outbox_event f WHERE f.forwarding = {} AND f.state = {} "
              "AND f.lease_until >= {})")
_recorded: ContextVar[int] = ContextVar("outbox_recorded", default=0)


def recorded() -> int:
    """How many events this task has recorded: a caller compares before and after a move to know whether to
    have the delivery job run (a rolled-back write may leave a count behind: one needless, harmless run)."""
    return _recorded.get()


def event_id(case_event: int) -> str:
    return f"jifen-{case_event}"


async def record(case: dict[str, Any], action: str, case_event: int, handler_id: int | None) -> None:
    """Inside the move's transaction: the event owed to the outside system the case's unit is reached through,
    if any. Not for a handler's move (`handler_id`) that system made itself (it knows), nor, for an Open311
    server, for anything but a new dispatch."""
    if case.get("unit") is None:
        return
    rows = await sql("SELECT id, kind, service_code, jurisdiction, member FROM forwarding WHERE unit = {} "
                     "AND disabled_at IS NULL", case["unit"])
    if not rows or rows[0]["member"] == handler_id:
        return
    forwarding = rows[0]
    if forwarding["kind"] == ForwardKind.GEOREPORT and action not in GEOREPORT_ACTIONS:
        return
    details = await _details(case)
    body = (_webhook_body(case, action, case_event, details) if forwarding["kind"] == ForwardKind.WEBHOOK
            else _georeport_fields(case, forwarding, details))
    now = clock.now()
    await sql("INSERT INTO outbox_event (forwarding, \"case\", action, body, state, attempts, next_at, last_error, "
              "remote_id, created_at) VALUES ({}, {}, {}, {}, {}, 0, {}, '', '', {})", forwarding["id"], case["id"],
              action, json.dumps(body, ensure_ascii=False, sort_keys=True), OutboxState.PENDING, now, now)
    _recorded.set(_recorded.get() + 1)


async def _details(case: dict[str, Any]) -> dict[str, Any]:
    report = (await sql("SELECT s.item_id, s.description, s.address, s.lat, s.lng, c.code AS community_code "
                        "FROM submission s JOIN community c ON c.id = s.community WHERE s.id = {}",
                        case["submission"]))[0]
    item = (await schemes.for_community(case["community"])).item(report["item_id"])
    return {**report, "item_name": item.name_zh if item else report["item_id"],
            "category": item.category if item else ""}


def _moment(value: Any) -> str | None:
    return aware(value).isoformat() if value else None


def _webhook_body(case: dict[str, Any], action: str, case_event: int, d: dict[str, Any]) -> dict[str, Any]:
    """What the unit needs to find and fix the problem, and never who reported it."""
    return {"event_id": event_id(case_event), "event": f"case.{action}", "occurred_at": _moment(case["updated_at"]),
            "community": d["community_code"],
            "case": {"id": case["id"], "state": case["state"], "priority": case["priority"],
                     "service_code": d["item_id"], "service_name": d["item_name"], "group": d["category"],
                     "description": d["description"], "address": d["address"], "lat": d["lat"], "long": d["lng"],
                     "deadline": _moment(case.get("deadline")), "hard_deadline": _moment(case.get("hard_deadline")),
                     "note": case.get("note") or "", "reopened": case.get("reopened") or 0}}


def _georeport_fields(case: dict[str, Any], forwarding: dict[str, Any], d: dict[str, Any]) -> dict[str, Any]:
    """An Open311 GeoReport v2 POST requests (without the api_key, which is added when sent)."""
    fields = {"service_code": forwarding["service_code"] or d["item_id"],
              "description": f"{d['item_name']}: {d['description']} (Jifen {d['community_code']} #{case['id']})"[:4000]}
    if d["lat"] is not None:
        fields |= {"lat": f"{d['lat']:.6f}", "long": f"{d['lng']:.6f}"}
    if d["address"]:
        fields["address_string"] = d["address"]
    if forwarding["jurisdiction"]:
        fields["jurisdiction_id"] = forwarding["jurisdiction"]
    return fields


# ------------------------------------------------------------------ delivery


async def deliver_due() -> int:
    """Send every event that is due, until none is left or the pass's time is spent. Returns how many were
    delivered."""
    delivered, started = 0, asyncio.get_running_loop().time()
    gate = asyncio.Semaphore(SENDING_AT_ONCE)

    async def one(event_id_: int) -> bool:
        async with gate:
            return await _deliver(event_id_)

    while asyncio.get_running_loop().time() - started < PASS_BUDGET_S:
        now = clock.now()
        rows = await sql("SELECT e.id, e.forwarding " + _HEADS + " AND e.next_at <= {} AND (e.lease_until IS NULL "
                         "OR e.lease_until < {}) AND " + _IDLE_LINK.format("e.forwarding", "{}", "{}") +
                         " ORDER BY e.id LIMIT {}", OutboxState.PENDING, OutboxState.DELIVERED, now, now,
                         OutboxState.PENDING, now, BATCH)
        due = list({r["forwarding"]: r["id"] for r in reversed(rows)}.values())  # each system's first due event
        if not due:
            break
        done = sum(await asyncio.gather(*(one(i) for i in due)))
        delivered += done
        if not done:  # every one failed or was taken by another sender: their back-off decides what comes next
            break
    return delivered


async def next_due_in() -> float | None:
    """Seconds until the next event falls due (0: now), None when nothing waits: when to run `deliver_due` next."""
    rows = await sql("SELECT e.next_at, e.lease_until " + _HEADS + " ORDER BY e.next_at LIMIT {}",
                     OutboxState.PENDING, OutboxState.DELIVERED, BATCH)
    if not rows:
        return None
    moments = [max(aware(r["next_at"]), aware(r["lease_until"]) if r["lease_until"] else aware(r["next_at"]))
               for r in rows]
    return max(0.0, (min(moments) - clock.now()).total_seconds())


async def _deliver(outbox_id: int) -> bool:
    now = clock.now()
    lease = now + timedelta(seconds=settings().outbound_seconds + LEASE_MARGIN_S)

    async def claim() -> list[dict[str, Any]]:
        # Only while its link is enabled (a disabled link sends nothing more, whatever was owed on it), and while
        # nothing else is in flight to the same system.
        return await sql("UPDATE outbox_event SET lease_until = {}, attempts = attempts + 1 WHERE id = {} AND state = {} "
                         "AND (lease_until IS NULL OR lease_until < {}) AND forwarding IN (SELECT id FROM forwarding "
                         "WHERE disabled_at IS NULL) AND " + _IDLE_LINK.format("outbox_event.forwarding", "{}", "{}") +
                         " RETURNING id, forwarding, body, attempts", lease, outbox_id, OutboxState.PENDING, now,
                         OutboxState.PENDING, now)

    claimed = await write(claim)
    if not claimed:
        return False  # another sender has it
    event = claimed[0]
    forwarding = (await sql("SELECT kind, url, secret FROM forwarding WHERE id = {}", event["forwarding"]))[0]
    try:
        remote_id = await _send(forwarding, event["body"])
    except OutboundError as exc:
        await _failed(event, str(exc), exc.status)
        return False
    await write(lambda: sql("UPDATE outbox_event SET state = {}, delivered_at = {}, lease_until = NULL, "
                            "last_error = '', remote_id = {} WHERE id = {} AND state = {}", OutboxState.DELIVERED,
                            clock.now(), remote_id, outbox_id, OutboxState.PENDING))
    metrics.OUTBOX.labels("delivered").inc()
    return True


async def _send(forwarding: dict[str, Any], body: str) -> str:
    """Send one event; its remote id (an Open311 server's service_request_id) or ''."""
    if forwarding["kind"] == ForwardKind.WEBHOOK:
        data, stamp, event = body.encode(), int(clock.timestamp()), json.loads(body)
        await fetch("POST", forwarding["url"], data, {
            "Content-Type": "application/json; charset=utf-8", "Idempotency-Key": event["event_id"],
            "X-Jifen-Event": event["event"], "X-Jifen-Timestamp": str(stamp),
            "X-Jifen-Signature": signature(forwarding["secret"], stamp, data)})
        return ""
    fields = {**json.loads(body), "api_key": forwarding["secret"]}
    answer = await fetch("POST", forwarding["url"].rstrip("/") + "/requests.json",
                        urllib.parse.urlencode(fields).encode(),
                        {"Content-Type": "application/x-www-form-urlencoded"})
    try:
        first = json.loads(answer.body)[0]
        return str(first.get("service_request_id") or f"{TOKEN_PREFIX}{first['token']}")[:64]
    except (ValueError, LookupError, TypeError, AttributeError):
        raise OutboundError("the Open311 server's answer has no service_request_id or token") from None


async def _failed(event: dict[str, Any], error: str, status: int | None) -> None:
    # Refused for good (a redirect will redirect again; a 4xx but the retryable ones): parked for staff at once.
    for_good = status is not None and 300 <= status < 500 and status not in RETRYABLE_4XX
    park = for_good or event["attempts"] > len(BACKOFF_S)
    now = clock.now()
    next_at = now + timedelta(seconds=BACKOFF_S[min(event["attempts"], len(BACKOFF_S)) - 1])


    async def run() -> None:
        await sql("UPDATE outbox_event SET state = {}, next_at = {}, lease_until = NULL, last_error = {} "
                  "WHERE id = {} AND state = {}", OutboxState.PARKED if park else OutboxState.PENDING,
                  now if park else next_at, error[:300], event["id"], OutboxState.PENDING)
        if status is None and not park:  # no answer at all: the system is down or hangs, so everything else owed
            # to it waits as long (a breaker: one try per back-off step, not one per event)
            await sql("UPDATE outbox_event SET next_at = {} WHERE forwarding = {} AND state = {} AND next_at < {}",
                      next_at, event["forwarding"], OutboxState.PENDING, next_at)

    await write(run)
    metrics.OUTBOX.labels("parked" if park else "failed").inc()
    log.warning("outbox event %d: attempt %d failed (%s); %s", event["id"], event["attempts"], error[:200],
                "parked for staff" if park else f"next try at {next_at.isoformat()}")


async def forget_delivered(days: int) -> int:
    """Empty the bodies of events delivered more than `days` ago: they hold a report's words and precise place,
    which the report itself keeps only so long (points/people/member_data.py)."""
    before = clock.now() - timedelta(days=days)
    return len(await write(lambda: sql("UPDATE outbox_event SET body = {} WHERE state = {} AND delivered_at < {} "
                                       "AND body <> {} RETURNING id", "{}", OutboxState.DELIVERED, before, "{}")))


# ------------------------------------------------------------------ staff


async def park_link(forwarding_id: int, reason: str) -> None:
    """Inside the transaction disabling a link: what was still owed on it is parked, saying why (staff may send
    it again once an admin enables the link)."""
    await sql("UPDATE outbox_event SET state = {}, lease_until = NULL, last_error = {} WHERE forwarding = {} "
              "AND state = {}", OutboxState.PARKED, reason, forwarding_id, OutboxState.PENDING)


async def listing(actor: Actor, state: str | None = None, limit: int = 100,
                  outbox_id: int | None = None) -> list[dict[str, Any]]:
    """The community's forwarded events, newest first (`state`: pending | delivered | parked)."""
    where, args = scope.clause(actor, "c.community")
    if state:
        where, args = where + " AND e.state = {}", [*args, state]
    if outbox_id is not None:
        where, args = where + " AND e.id = {}", [*args, outbox_id]
    rows = await sql("SELECT e.id, e.\"case\" AS case_id, e.action, e.state, e.attempts, e.next_at, e.last_error, "
                     "e.remote_id, e.created_at, e.delivered_at, u.name AS unit_name FROM outbox_event e "
                     "JOIN case_file c ON c.id = e.\"case\" JOIN forwarding f ON f.id = e.forwarding "
                     "JOIN unit u ON u.id = f.unit WHERE true" + where + " ORDER BY e.id DESC LIMIT {}", *args, limit)
    return [{**r, "next_at": aware(r["next_at"]), "created_at": aware(r["created_at"]),
             "delivered_at": aware(r["delivered_at"]) if r["delivered_at"] else None} for r in rows]


async def retry(actor: Actor, outbox_id: int) -> dict[str, Any]:
    """Send a parked event again, now, with a fresh round of retries."""
    actor.require_active("retry a forwarded event")

    async def run() -> None:
        where, args = scope.clause(actor, "c.community")
        rows = await sql("SELECT e.id, e.state, c.community FROM outbox_event e JOIN case_file c ON c.id = e.\"case\" "
                         "WHERE e.id = {}" + where, outbox_id, *args)
        if not rows:
            raise NotFound("forwarded event")
        if rows[0]["state"] != OutboxState.PARKED:
            raise Conflict("not_parked", f"only a parked event is sent again; this one is {rows[0]['state']}",
                           field="state", state=rows[0]["state"])
        if await sql("SELECT id FROM forwarding WHERE id = (SELECT forwarding FROM outbox_event WHERE id = {}) "
                     "AND disabled_at IS NOT NULL", outbox_id):
            raise Conflict("link_disabled", "its link to the outside system is disabled: an admin enables it first",
                           field="state")
        # Conditional on its still being parked: of retries sent at once, one takes it; the rest find it pending.
        if not await sql("UPDATE outbox_event SET state = {}, attempts = 0, next_at = {} WHERE id = {} AND state = {} "
                         "RETURNING id", OutboxState.PENDING, clock.now(), outbox_id, OutboxState.PARKED):
            raise Conflict("not_parked", "only a parked event is sent again; this one is pending", field="state",
                           state=OutboxState.PENDING)
        await audit.record(actor.id, "outbox.retry", "outbox_event", outbox_id, rows[0]["community"])

    await write(run)
    return (await listing(actor, outbox_id=outbox_id))[0]
