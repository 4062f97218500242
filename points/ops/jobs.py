"""Background jobs. Each is idempotent and keyed on database state, so running
one 0, 1 or N times has the same effect: a lost job is found again by the
sweeper, a repeated one finds nothing left to do.

rq calls the plain functions (`award_pending`, `sweep`) in a worker process;
they run their coroutine on the process's one event loop, so a PostgreSQL
pool lives across jobs. The embedded worker awaits the coroutines directly.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from points import clock
from points.areas import schemes
from points.cases import chasing, forwarding, outbox
from points.infra import changes, db, metrics
from points.infra.config import settings
from points.infra.db import Unavailable, counting_statements, sql
from points.infra.photo_store import photo_store
from points.infra.sms import make_sender
from points.ledger import expiry, honours
from points.people import member_data, otp
from points.reports import awards, intake, spam
from points.shop import counter
from points.tasks import attendance
from points.vocabulary import SubmissionStatus

log = logging.getLogger(__name__)
T = TypeVar("T")
DRAIN_BUDGET_S = 240.0  # below the rq job timeout, so a long backlog hands over cleanly
HOURLY_S = 3600.0  # points expire and months end by the day: an hourly look is plenty (it reads every balance)

MIN_FOLLOW_UP_S = 1.0

_runner: asyncio.Runner | None = None
_hourly_last_run = float("-inf")
later: Callable[[Callable[[], Any], float], None] | None = None
"""How this process has a job run again after a delay (rq's scheduler in worker.py, a timer in the app's embedded
worker); None in a one-off command, where the periodic sweep picks the work up."""


def run(coro: Awaitable[T]) -> T:
    """Run a coroutine on this process's long-lived loop (rq jobs are sync)."""
    global _runner
    if _runner is None:
        _runner = asyncio.Runner()
    return _runner.run(coro, context=contextvars.copy_context())  # the caller's: a job's request id (points/infra/logs.py)


async def startup() -> None:
    await db.start(settings().pg_pool_max, name="jifen-worker")
    await schemes.record_version(schemes.current())


async def drain_awards() -> int:
    """Award verified submissions in batches until none are left (or the time budget is spent), each
    community's under its own scheme."""
    batch, total, deadline = settings().award_batch, 0, time.monotonic() + DRAIN_BUDGET_S
    forwarded_before = outbox.recorded()
    schemes_of: dict[int, Any] | None = None
    with counting_statements() as statements:
        # Again while a pass awarded something: an award may file another report (a referral's reward).
        while time.monotonic() < deadline:
            waiting = [r["community"] for r in await sql(
                "SELECT DISTINCT community FROM submission WHERE status = {} AND (award_after IS NULL OR "
                "award_after <= {})", SubmissionStatus.VERIFIED, clock.now())]
            if not waiting:
                break
            schemes_of = schemes_of or await schemes.by_community()
            awarded = 0
            for community in waiting:
                while time.monotonic() < deadline:
                    done = await awards.award_batch(schemes_of.get(community, schemes.current()), batch,
                                                    community=community)
                    awarded += done
                    if done < batch:
                        break
            total += awarded
            if not awarded:
                break
    if total:  # what the awards cost the database: statements a batch, not an award
        log.info("awarded %d submission(s) in %d SQL statements", total, statements[0])
    if outbox.recorded() != forwarded_before:  # cases opened and dispatched to a forwarded unit (auto_dispatch)
        await deliver_forwarded()
    return total


async def deliver_forwarded() -> int:
    """Deliver the outbox's due events, and have this job run again when the next one (a retry) falls due."""
    delivered = await outbox.deliver_due()
    wait = await outbox.next_due_in()
    if wait is not None and later is not None:
        later(deliver_outbox, max(wait, MIN_FOLLOW_UP_S))
    return delivered


async def sweep_async() -> dict[str, int]:
    """Periodic work, and what the queue may have lost: award verified submissions, expire overdue orders, chase
    cases past their deadlines (督办), send forwarded case events and read back what outside systems did with
    them, record no-shows of tasks whose window closed, and (hourly) expire points past their date, keep last
    month's honour boards, delete photo files no report refers to and login codes long dead, round the places
    of old settled reports and empty the copies forwarded events keep of them."""
    started = time.monotonic()
    try:
        done = await _sweep_once()
    except BaseException:
        metrics.SWEEPS.labels("failed").inc()
        raise
    metrics.SWEEPS.labels("done").inc()
    metrics.SWEEP_SECONDS.observe(time.monotonic() - started)
    if any(done.values()):  # what it expired, chased, recorded or moved may show on members' pages anywhere
        await changes.announce()
    return done


async def _step(done: dict[str, int], name: str, work: Callable[[], Awaitable[Any]]) -> None:
    """One step of the sweep, on its own: what goes wrong in it (a bug, an outside system's strange answer) is
    logged and counted in `steps_failed`, and the steps after it still run for every community."""
    try:
        found = await work()
    except Unavailable:
        raise  # the database is down: nothing after this would do better
    except Exception:
        log.exception("sweep step %s failed; the other steps go on", name)
        metrics.SWEEP_STEPS_FAILED.labels(name).inc()
        done["steps_failed"] = done.get("steps_failed", 0) + 1
        return
    if isinstance(found, dict):
        done.update(found)
    else:
        done[name] = found


async def _photo_sweep() -> int:
    try:
        return await intake.sweep_orphan_photos(photo_store(settings()))
    except Unavailable as exc:  # the photo store is down: the next hour's sweep tries again
        log.warning("orphan photo sweep skipped: %s", exc)
        return 0


async def _sweep_once() -> dict[str, int]:
    global _hourly_last_run
    done: dict[str, int] = {}
    await _step(done, "awarded", drain_awards)
    await _step(done, "orders_expired", lambda: counter.expire_due(settings().award_batch))
    await _step(done, "chased", lambda: chasing.chase(schemes.current(), make_sender(settings().sms_sender)))
    await _step(done, "forwarded", deliver_forwarded)
    await _step(done, "forwarded_cases_moved", forwarding.poll)
    grouped = await schemes.groups()  # each community's scheme: its own penalty, expiry policy and board size

    def each_scheme(work: Callable[..., Awaitable[int]]) -> Callable[[], Awaitable[int]]:
        async def all_of_them() -> int:
            return sum([await work(rules, communities=ids) for rules, ids in grouped])
        return all_of_them

    await _step(done, "no_shows", each_scheme(attendance.record_no_shows))
    await _step(done, "spam_penalties", each_scheme(spam.record_spam_penalties))
    if time.monotonic() - _hourly_last_run >= HOURLY_S:
        await _step(done, "points_expired", each_scheme(expiry.expire_points))
        await _step(done, "board_rows_kept", each_scheme(honours.keep_last_month))
        await _step(done, "orphan_photos_deleted", _photo_sweep)
        await _step(done, "codes_purged", otp.purge)
        await _step(done, "places_coarsened", lambda: member_data.coarsen_old_places(settings().precise_place_days))
        await _step(done, "forwarded_bodies_emptied", lambda: outbox.forget_delivered(settings().precise_place_days))
        _hourly_last_run = time.monotonic()
    return done


def award_pending() -> int:
    return run(drain_awards())


def sweep() -> dict[str, int]:
    return run(sweep_async())


def deliver_outbox() -> int:
    return run(deliver_forwarded())


OUTBOUND = frozenset({deliver_outbox})  # jobs that wait on outside systems: their own lane (points/ops/dispatch.py)
ASYNC: dict[Callable[[], Any], Callable[[], Awaitable[Any]]] = {
    award_pending: drain_awards,
    sweep: sweep_async,
    deliver_outbox: deliver_forwarded,
}
