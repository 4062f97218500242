"""Crash tests (production leg): worker.py and app processes SIGKILLed at random points of an award drain and
of a shop rush, on a scratch database and Redis database of their own (seeded, replayable: JIFEN_TEST_CRASH_SEED).

What must hold: every verified report is awarded exactly once within a bounded time after the last kill, no
worker leaves a process behind, every order key placed at most one order, and reconciliation is clean.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sys
import time
from pathlib import Path

import asyncpg
import pytest

from conftest import LEG, ROOT, TMP, Process, python, requires_rq, wait_for

pytestmark = requires_rq("crash tests kill worker.py and app processes: the production leg")

SEED = int(os.environ.get("JIFEN_TEST_CRASH_SEED", "20261129"))


@pytest.fixture(scope="module")
def bench():
    """bench/common.py's scratch databases and seeded communities, pointed at the test server."""
    if LEG != "postgres":
        pytest.skip("production leg only")
    os.environ.setdefault("BENCH_DATABASE_URL", os.environ["JIFEN_TEST_DATABASE_URL"])
    sys.path.insert(0, str(ROOT / "bench"))
    import awards as bench_awards
    import common

    return common, bench_awards


def scratch_env(url: str) -> dict[str, str]:
    redis_url = os.environ["JIFEN_TEST_REDIS_URL"].rsplit("/", 1)[0] + "/13"
    import redis

    redis.Redis.from_url(redis_url).flushdb()
    return {"DATABASE_URL": url, "REDIS_URL": redis_url, "JIFEN_DATA_DIR": str(TMP / "crash"),
            "JIFEN_SWEEP_SECONDS": "3600", "JIFEN_AWARD_BATCH": "100"}


def children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


async def fetchval(url: str, query: str) -> int:
    con = await asyncpg.connect(url)
    try:
        return await con.fetchval(query)
    finally:
        await con.close()


def enqueue_drain(env: dict[str, str], job_id: str) -> None:
    import redis
    from rq import Queue
    from rq.serializers import JSONSerializer

    from points import jobs

    Queue("jifen", connection=redis.Redis.from_url(env["REDIS_URL"]), serializer=JSONSerializer).enqueue(
        jobs.award_pending, job_id=job_id, job_timeout=600)


def test_killed_workers_leave_no_award_stuck(bench):
    common, bench_awards = bench
    rng = random.Random(SEED)
    name = f"jifen_crash_{os.getpid()}"
    url = asyncio.run(common.fresh_database(name))
    try:
        total = 4000
        asyncio.run(bench_awards.seed(url, total, 300))
        env = scratch_env(url)
        left = total
        for kill in range(4):
            worker = Process(f"crash-worker{kill}", ["worker.py"], env)
            enqueue_drain(env, f"crash-drain-{kill}")
            # Kill somewhere inside the drain: once this worker has awarded something, after a random pause.
            wait_for(lambda before=left: asyncio.run(fetchval(
                url, "SELECT count(*) FROM submission WHERE status = 'verified'")) < before,
                timeout=60, what=f"worker {kill} to start awarding")
            time.sleep(rng.uniform(0.0, 0.4))
            assert children(worker.proc.pid) == [], "worker.py forked a child that would outlive it"
            worker.proc.send_signal(signal.SIGKILL)
            worker.proc.wait()
            left = asyncio.run(fetchval(url, "SELECT count(*) FROM submission WHERE status = 'verified'"))
            assert left > 0, "the drain finished before the kill: seed more reports"
        started = time.monotonic()
        last = Process("crash-worker-last", ["worker.py"], env)
        try:
            enqueue_drain(env, "crash-drain-last")
            wait_for(lambda: asyncio.run(fetchval(url, "SELECT count(*) FROM submission WHERE status = 'verified'"))
                     == 0, timeout=60, what="the backlog to drain after the kills")
        finally:
            last.stop()
        print(f"seed {SEED}: drained the rest in {time.monotonic() - started:.1f} s")
        awarded = asyncio.run(fetchval(url, "SELECT count(*) FROM submission WHERE status = 'awarded'"))
        paid = asyncio.run(fetchval(url, "SELECT count(*) FROM submission WHERE points > 0"))
        transfers = asyncio.run(fetchval(url, "SELECT count(*) FROM transfer WHERE code = 'award'"))
        doubled = asyncio.run(fetchval(url, "SELECT count(*) FROM (SELECT ref FROM transfer WHERE code = 'award' "
                                            "GROUP BY ref HAVING count(*) > 2) d"))
        assert (awarded, transfers, doubled) == (total, 2 * paid, 0)
        reconciled = python("-m", "points", "reconcile", env=env)
        assert reconciled.returncode == 0, reconciled.stdout + reconciled.stderr
        stuck = asyncio.run(fetchval(url, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                          "AND state = 'idle in transaction'"))
        assert stuck == 0
    finally:
        asyncio.run(common.admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
