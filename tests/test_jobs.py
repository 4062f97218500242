"""Award jobs: exactly once however often they run, a sweeper for lost jobs, batches for backlogs."""

from __future__ import annotations

import asyncio
import itertools
import os
import subprocess
import sys
import time
from datetime import timedelta

import pytest

from conftest import LEG, ROOT, Process, near, python, requires_rq, run, start_server, wait_for
from points import clock
from points.areas import schemes
from points.infra.config import settings
from points.ops import jobs
from points.reports import awards, review
from points.scope import Actor
from points.tables import OneTimeCode, Photo, Submission, Transfer

pytestmark = pytest.mark.calendar  # reads the calendar: run again with the clock pinned


def staff_actor(community) -> Actor:
    return Actor(community.staff.id, "staff", community.id, "staff", "active")


_spots = itertools.count()


def verified_without_job(api, community, jpeg, count: int) -> list[int]:
    """Reports verified through the domain only: committed as verified, no job ever enqueued."""
    ids = []
    for n in range(count):
        member = community.riders[n % 2]
        spot = near(metres_north=150 * next(_spots))  # far apart: none is a duplicate of another
        response = api.submit(member, "order.streetlight_broken", [jpeg], **spot)
        ids.append(response.json()["id"])
    for sid in ids:
        run(review.verify(staff_actor(community), schemes.current(), sid))
    return ids


def transfers_for(ids: list[int]) -> dict[str, int]:
    rows = run(Transfer.select(Transfer.idempotency_key, Transfer.amount).where(
        Transfer.ref.is_in([f"submission:{i}" for i in ids])))
    return {r["idempotency_key"]: r["amount"] for r in rows}


def expected_transfers(ids: list[int]) -> dict[str, int]:
    return {key: 10 for i in ids for key in (f"award:submission:{i}", f"award:submission:{i}:lifetime")}


def statuses(ids: list[int]) -> set[str]:
    return {r["status"] for r in run(Submission.select(Submission.status).where(Submission.id.is_in(ids)))}


def test_award_job_run_once_twice_and_ten_times(api, community, jpeg):
    for runs in (1, 2, 10):
        ids = verified_without_job(api, community, jpeg, 2)
        for _ in range(runs):
            run(jobs.drain_awards())
        assert statuses(ids) == {"awarded"}
        assert transfers_for(ids) == expected_transfers(ids)


def test_award_job_run_concurrently_in_many_processes(api, make_community, jpeg):
    ids = verified_without_job(api, make_community(), jpeg, 2) + verified_without_job(api, make_community(), jpeg, 2)
    sweeps = [subprocess.Popen([sys.executable, "-m", "points", "sweep"], cwd=ROOT) for _ in range(4)]

    async def many() -> list[int]:
        return await asyncio.gather(*(jobs.drain_awards() for _ in range(6)))

    run(many())
    assert [p.wait(timeout=60) for p in sweeps] == [0] * 4
    assert statuses(ids) == {"awarded"}
    assert transfers_for(ids) == expected_transfers(ids)


def test_the_sweeper_awards_what_no_job_was_enqueued_for(api, community, jpeg):
    # A process with a one-second sweep: the embedded app, or a worker.py on the production leg.
    if LEG == "postgres":
        sweeper = Process("quick-sweep-worker", ["worker.py"], {"JIFEN_SWEEP_SECONDS": "1"})
    else:
        sweeper, _ = start_server("quick-sweep-server", {"JIFEN_SWEEP_SECONDS": "1"})
    try:
        time.sleep(1.5)  # let its first sweep pass, so the one that matters is periodic
        ids = verified_without_job(api, community, jpeg, 3)
        wait_for(lambda: statuses(ids) == {"awarded"}, timeout=30, what="the sweeper to award")
    finally:
        sweeper.stop()
    assert transfers_for(ids) == expected_transfers(ids)
    assert "Traceback" not in sweeper.text()


def test_a_backlog_drains_many_awards_per_transaction(community):
    rules = schemes.current()
    day = rules.local_date(clock.now())
    rows = [Submission(member=community.residents[n % 2].id, community=community.id, item_id="civic.public_opinion",
                       claimed_item_id="civic.public_opinion", description=f"意见 {n}", status="verified",
                       local_day=day, rules_version=rules.version) for n in range(120)]
    run(Submission.insert(*rows))
    ids = [r["id"] for r in run(Submission.select(Submission.id).where(
        (Submission.community == community.id) & (Submission.item_id == "civic.public_opinion")))]
    assert run(awards.award_batch(rules, 50, ids)) == 50
    assert run(awards.award_batch(rules, 50, ids)) == 50
    assert run(awards.award_batch(rules, 50, ids)) == 20
    assert run(awards.award_batch(rules, 50, ids)) == 0
    assert statuses(ids) == {"awarded"}
    points = [r["points"] for r in run(Submission.select(Submission.points).where(Submission.id.is_in(ids)))]
    assert sorted(points, reverse=True)[:4] == [5, 5, 5, 5] and points.count(5) == 4  # 2 a day each
    assert len(transfers_for(ids)) == 8


@requires_rq()
def test_award_job_enqueued_ten_times_on_rq_awards_once(api, community, jpeg, stack):
    from points.infra.config import settings
    from points.ops.dispatch import enqueue_rq, rq_queue

    ids = verified_without_job(api, community, jpeg, 3)
    queue = rq_queue(settings().redis_url)
    for n in range(10):
        enqueue_rq(queue, jobs.award_pending, job_id=f"test-repeat-{ids[0]}-{n}")
    wait_for(lambda: statuses(ids) == {"awarded"}, timeout=30, what="rq workers to award")
    wait_for(lambda: queue.count == 0 and len(queue.started_job_registry) == 0, timeout=30, what="the queue to empty")
    assert transfers_for(ids) == expected_transfers(ids)
    assert len(queue.failed_job_registry) == 0



@requires_rq()
def test_a_job_the_previous_release_queued_still_runs(api, community, jpeg, stack):
    """rq keeps a queued job as its function's dotted path. The previous release queued `points.jobs.…`
    (before the jobs moved to points/ops/jobs.py): this release's workers still run such a job during an
    upgrade while serving."""
    from rq.job import JobStatus

    from points.infra.config import settings
    from points.ops.dispatch import RETRY, rq_queue

    ids = verified_without_job(api, community, jpeg, 2)
    queue = rq_queue(settings().redis_url)
    queued = [queue.enqueue(f"points.jobs.{name}", job_id=f"test-old-path-{name}-{ids[0]}", retry=RETRY)
              for name in ("award_pending", "sweep", "deliver_outbox")]
    wait_for(lambda: all(job.get_status(refresh=True) == JobStatus.FINISHED for job in queued), timeout=60,
             what="the jobs queued under their old paths to finish")
    assert statuses(ids) == {"awarded"}
    assert transfers_for(ids) == expected_transfers(ids)

@requires_rq()
def test_workers_left_idle_still_take_the_next_job(api, community, jpeg, stack):
    """rq blocks on Redis for minutes waiting for a job; a worker whose connection gave up after 5 s of
    silence backed off for up to a minute while awards waited (a CI run saw a 20 s stall)."""
    time.sleep(8)  # every worker idle longer than the old 5 s socket timeout
    ids = verified_without_job(api, community, jpeg, 1)
    from points.infra.config import settings
    from points.ops.dispatch import enqueue_rq, rq_queue

    enqueue_rq(rq_queue(settings().redis_url), jobs.award_pending, job_id=f"test-idle-{ids[0]}")
    wait_for(lambda: statuses(ids) == {"awarded"}, timeout=30, what="an idle worker to take the job")
    for worker in stack["workers"]:
        assert "could not connect to Redis" not in worker.text(), worker.text()[-2000:]


def test_caps_hold_when_awards_for_one_member_race(api, community, jpeg):
    """Six reports of a 3-a-day item, awarded one per transaction by six processes at once: exactly 3 earn."""
    rider = community.riders[0]
    ids = []
    for _ in range(6):
        response = api.submit(rider, "order.streetlight_broken", [jpeg], **near(metres_north=150 * next(_spots)))
        ids.append(response.json()["id"])
    for sid in ids:
        run(review.verify(staff_actor(community), schemes.current(), sid))
    racers = [subprocess.Popen([sys.executable, "-m", "points", "sweep"], cwd=ROOT,
                               env={**os.environ, "JIFEN_AWARD_BATCH": "1"}) for _ in range(6)]
    assert [p.wait(timeout=60) for p in racers] == [0] * 6
    rows = run(Submission.select(Submission.points, Submission.award_note).where(Submission.id.is_in(ids)))
    assert sorted((r["points"], r["award_note"]) for r in rows) == [(0, "cap.item_daily")] * 3 + [(10, "")] * 3
    assert api.balance(rider)["spendable"] == 30


def test_the_sweep_deletes_orphan_photos_and_dead_codes(api, community, jpeg):
    """What a killed process leaves behind: a photo file whose report never committed. The hourly sweep
    deletes it once it is an hour old; the photos of reports, and a file still on its way in, stay."""
    rider = community.riders[0]
    sid = api.submit(rider, "order.streetlight_broken", [jpeg], **near(metres_north=90)).json()["id"]
    [kept] = [settings().photo_dir / r["path"] for r in run(Photo.select(Photo.path).where(Photo.submission == sid))]
    folder = kept.parent
    orphan, arriving = folder / "0rphan.jpg", folder / "arriving.part"
    orphan.write_bytes(jpeg)
    arriving.write_bytes(jpeg)
    for path in (kept, orphan):  # files go by the file system's clock: two hours older than they are
        two_hours_before = path.stat().st_mtime - 7200
        os.utime(path, (two_hours_before, two_hours_before))
    now = clock.now()
    run(OneTimeCode.insert(
        OneTimeCode(phone="+8613900000001", code_hash="x", created_at=now - timedelta(days=3),
                    expires_at=now - timedelta(days=3)),
        OneTimeCode(phone="+8613900000002", code_hash="y", created_at=now, expires_at=now + timedelta(minutes=10))))

    swept = python("-m", "points", "sweep")
    assert swept.returncode == 0, swept.stderr
    assert "'orphan_photos_deleted': 1" in swept.stdout, swept.stdout
    assert (kept.exists(), orphan.exists(), arriving.exists()) == (True, False, True)
    left = {r["phone"] for r in run(OneTimeCode.select(OneTimeCode.phone))}
    assert "+8613900000001" not in left and "+8613900000002" in left
    assert api.get(f"/api/v1/submissions/{sid}", rider).status_code == 200
