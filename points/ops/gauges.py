"""The gauges an operator reads at scrape time, from the source of truth: the award lag and backlog, rq's
queue depths and failed jobs, the database pool, open and overdue cases, undelivered forwarded events, tasks
running now. The same whichever process answers ("mostrecent": with several processes, the latest reading
stands); the counters that move as work happens are points/infra/metrics.py's.
"""

from __future__ import annotations

import asyncio
from datetime import datetime

from prometheus_client import Gauge
from rq.registry import FailedJobRegistry, ScheduledJobRegistry, StartedJobRegistry

from points import clock
from points.infra import db
from points.infra.db import marks, sql
from points.ops.dispatch import rq_queue, rq_queues
from points.vocabulary import CaseState, OutboxState, SubmissionStatus, TaskStatus

AWARD_LAG = Gauge("jifen_award_lag_seconds", "How long the oldest report due for award has waited (0: none)",
                  multiprocess_mode="mostrecent")
AWARD_BACKLOG = Gauge("jifen_award_backlog", "Verified reports due for award, not yet awarded",
                      multiprocess_mode="mostrecent")
QUEUE = Gauge("jifen_queue_jobs", "Jobs in rq's queue, by state (production)", ["state"],
              multiprocess_mode="mostrecent")
POOL = Gauge("jifen_db_pool_connections", "This process's PostgreSQL pool, by state", ["state"],
             multiprocess_mode="livesum")
CASES = Gauge("jifen_cases_open", "Cases not yet closed, by state", ["state"], multiprocess_mode="mostrecent")
CASES_OVERDUE = Gauge("jifen_cases_overdue", "Open cases past their deadline", multiprocess_mode="mostrecent")
OUTBOX_WAITING = Gauge("jifen_outbox_events", "Forwarded case events not yet delivered, by state", ["state"],
                       multiprocess_mode="mostrecent")
TASKS_RUNNING = Gauge("jifen_tasks_running", "Published tasks whose window is open now", multiprocess_mode="mostrecent")

OPEN_CASES = [s for s in CaseState if s not in (CaseState.CLOSED, CaseState.RESOLVED_ON_SITE)]


def seconds_since(then: datetime | str | None, now: datetime) -> float:
    if then is None:
        return 0.0
    if isinstance(then, str):  # SQLite hands back text from an aggregate
        then = datetime.fromisoformat(then)
    return max(0.0, (now - then).total_seconds())


async def read_gauges(redis_url: str | None) -> None:
    """Set the scrape-time gauges from the database (and rq): a few indexed counts."""
    now = clock.now()
    # Due for award: verified, and past a batch approval's undo window if it had one (points/reports/review.py).
    award = (await sql("SELECT COUNT(*) AS n, MIN(COALESCE(award_after, verified_at)) AS oldest FROM submission "
                       "WHERE status = {} AND (award_after IS NULL OR award_after <= {})",
                       SubmissionStatus.VERIFIED, now))[0]
    AWARD_BACKLOG.set(award["n"])
    AWARD_LAG.set(seconds_since(award["oldest"], now))
    by_state = {r["state"]: r["n"] for r in await sql(
        f"SELECT state, COUNT(*) AS n FROM case_file WHERE state IN ({marks(OPEN_CASES)}) GROUP BY state", *OPEN_CASES)}
    for state in OPEN_CASES:
        CASES.labels(state.value).set(by_state.get(state, 0))
    CASES_OVERDUE.set((await sql(f"SELECT COUNT(*) AS n FROM case_file WHERE state IN ({marks(OPEN_CASES)}) "
                                 "AND deadline < {}", *OPEN_CASES, now))[0]["n"])
    TASKS_RUNNING.set((await sql("SELECT COUNT(*) AS n FROM task WHERE status = {} AND starts_at <= {} AND ends_at > {}",
                                 TaskStatus.PUBLISHED, now, now))[0]["n"])
    waiting = {r["state"]: r["n"] for r in await sql(
        "SELECT state, COUNT(*) AS n FROM outbox_event WHERE state IN ({}, {}) GROUP BY state",
        OutboxState.PENDING, OutboxState.PARKED)}
    for state in (OutboxState.PENDING, OutboxState.PARKED):
        OUTBOX_WAITING.labels(state.value).set(waiting.get(state, 0))
    if (pool := db.pool()) is not None:
        POOL.labels("in_use").set(pool.get_size() - pool.get_idle_size())
        POOL.labels("idle").set(pool.get_idle_size())
    if redis_url:
        for state, n in (await asyncio.to_thread(queue_depths, redis_url)).items():
            QUEUE.labels(state).set(n)


def queue_depths(redis_url: str) -> dict[str, int]:
    """Jobs by state, over every lane's queue."""
    first = rq_queue(redis_url)
    try:
        queues = rq_queues(first.connection).values()
        return {"queued": sum(q.count for q in queues),
                "started": sum(StartedJobRegistry(queue=q).count for q in queues),
                "scheduled": sum(ScheduledJobRegistry(queue=q).count for q in queues),
                "failed": sum(FailedJobRegistry(queue=q).count for q in queues)}
    finally:
        first.connection.close()
