"""The use cases both doors share — the JSON API and the pages call these, so one input meets one decision:
filing a report (the rate limits, the domain, the award job for an item accepted without staff) and
verifying one (the domain, then the award job); confirming a task and being at one (the award job for what
they confirm); moving a case (the delivery job when the move owes an outside system an event). Signing in
lives in web/signin.py. A controller parses, calls one of these (or one domain call), and renders.
"""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import timedelta
from typing import TypeVar

from litestar import Request

from points.cases import outbox
from points.infra.photo_store import PhotoStore
from points.ops import jobs
from points.ops.dispatch import Dispatcher
from points.reports import intake, review
from points.reports.intake import PhotoLimits, Report
from points.scope import Actor
from points.tasks import attendance, presence
from points.vocabulary import SubmissionStatus
from rules import Rules
from web.limits import Limiter, client_ip

T = TypeVar("T")


async def award_soon(dispatcher: Dispatcher, cause: int | str) -> None:
    """Queue the award job after reports became `verified` (a no-op job if none did): the one place that
    does. `cause` names what made them so — a report's id, or a task and member — and so the job. A lost
    enqueue is found by the sweep."""
    await dispatcher.enqueue(jobs.award_pending, f"award-{cause}")


async def file_report(request: Request, limiter: Limiter, dispatcher: Dispatcher, rules: Rules, store: PhotoStore,
                      limits: PhotoLimits, report: Report, uploads: list[bytes],
                      idempotency_key: str | None, actor: Actor | None = None,
                      resent_within: timedelta | None = None) -> tuple[dict, bool]:
    """Returns (the submission, whether it was created now). `actor`: who files it, when not the signed-in
    member (an Open311 request's api_key). `resent_within`: see intake.submit (the page's form)."""
    actor = actor or request.user
    await limiter.hit("submit_member", str(actor.id))
    await limiter.hit("submit_ip", client_ip(request))
    view, created = await intake.submit(actor, rules, report, uploads, store, limits, idempotency_key, resent_within)
    if created and view["status"] == SubmissionStatus.VERIFIED:
        await award_soon(dispatcher, view["id"])
    return view, created


async def verify(request: Request, dispatcher: Dispatcher, rules: Rules, submission_id: int, item: str | None,
                 note: str) -> None:
    """Verify (and perhaps re-classify) a report; the award follows in the background."""
    await review.verify(request.user, rules, submission_id, item, note)
    await award_soon(dispatcher, submission_id)


async def award_reports(dispatcher: Dispatcher, submission_ids: list[int]) -> None:
    """Queue the award job for reports a task's confirmation filed (one job drains them all)."""
    if submission_ids:
        await award_soon(dispatcher, min(submission_ids))


async def confirm_task(request: Request, dispatcher: Dispatcher, rules: Rules, task_id: int,
                       member_ids: list[int] | None, until_end: bool = False) -> dict:
    """Staff confirm who was at a task; the points follow in the background."""
    done = await attendance.confirm(request.user, rules, task_id, member_ids, until_end)
    await award_reports(dispatcher, done["reports"])
    return done


async def correct_hours(request: Request, dispatcher: Dispatcher, rules: Rules, task_id: int, member_id: int,
                        hours: int, note: str) -> dict:
    """Staff correct a confirmed member's hours; the new points follow in the background."""
    done = await attendance.correct(request.user, rules, task_id, member_id, hours, note)
    await award_reports(dispatcher, done["reports"])
    return done


async def be_there(request: Request, dispatcher: Dispatcher, limiter: Limiter, rules: Rules, task_id: int,
                   leaving: bool, code: str | None, lat: float | None, lng: float | None) -> dict:
    """Check in or out of an activity; an item that confirms itself has its points queued. Site codes are
    throttled: past a few wrong ones for the task (or from one address) the member is told how long to wait, and
    no code is checked meanwhile (a code changes every half minute: guessing must not pay)."""
    if code is None:
        done = await presence.check(request.user, rules, task_id, leaving, code, lat, lng)
    else:
        mine = f"{request.user.id}:{task_id}"
        await limiter.hit("site_code_ip", client_ip(request), field="code")
        await limiter.hit("site_code_member", mine, field="code")
        done = await presence.check(request.user, rules, task_id, leaving, code, lat, lng)
        await limiter.give_back("site_code_member", mine)  # a right code does not count against them
        await limiter.give_back("site_code_ip", client_ip(request))
    if done["confirmed"]:
        await award_soon(dispatcher, f"task-{task_id}-{request.user.id}")
    return done


async def checkpoint_photo(request: Request, dispatcher: Dispatcher, rules: Rules, store: PhotoStore,
                           limits: PhotoLimits, task_id: int, checkpoint_id: int, upload: bytes,
                           lat: float | None, lng: float | None) -> dict:
    """A patrol's photo at a checkpoint; the last one may complete (and confirm) the patrol."""
    done = await presence.checkpoint_photo(request.user, rules, task_id, checkpoint_id, upload, lat, lng, store,
                                           limits)
    if done["confirmed"]:
        await award_soon(dispatcher, f"task-{task_id}-{request.user.id}")
    return done


async def move_case(dispatcher: Dispatcher, move: Awaitable[T]) -> T:
    """Any move of a case (points/cases/workflow.py): when it recorded an event for an outside system (points/cases/outbox.py),
    the delivery job follows. A lost enqueue is found by the sweep."""
    before = outbox.recorded()
    done = await move
    if outbox.recorded() != before:
        await dispatcher.enqueue(jobs.deliver_outbox, "outbox")
    return done


async def retry_forwarded(dispatcher: Dispatcher, actor: Actor, outbox_id: int) -> dict:
    """Staff send a parked event again; the delivery job follows."""
    done = await outbox.retry(actor, outbox_id)
    await dispatcher.enqueue(jobs.deliver_outbox, "outbox")
    return done
