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

from conftest import LEG, ROOT, TMP, Process, http_get, http_post, python, requires_rq, wait_for

pytestmark = requires_rq("crash tests kill worker.py and app processes: the production leg")

SEED = int(os.environ.get("JIFEN_TEST_CRASH_SEED", "20261129"))


@pytest.fixture(scope="module")
def bench():
    """bench/common.py's scratch databases and seeded communities, pointed at the test server."""
    if LEG != "postgres":
        pytest.skip("production leg only")
    os.environ.setdefault("BENCH_DATABASE_URL", os.environ["JIFEN_TEST_DATABASE_URL"])
    os.environ["BENCH_REDIS_URL"] = REDIS_URL
    sys.path.insert(0, str(ROOT / "bench"))
    import awards as bench_awards
    import common
    import rush

    return common, bench_awards, rush


REDIS_URL = os.environ.get("JIFEN_TEST_REDIS_URL", "redis://127.0.0.1:6379/15").rsplit("/", 1)[0] + "/13"


def flush_redis() -> None:
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()


def scratch_env(url: str, **extra: str) -> dict[str, str]:
    return {"DATABASE_URL": url, "REDIS_URL": REDIS_URL, "JIFEN_DATA_DIR": str(TMP / "crash"),
            "JIFEN_SWEEP_SECONDS": "3600", "JIFEN_AWARD_BATCH": "100", **extra}


def verified_left(url: str) -> int:
    return asyncio.run(fetchval(url, "SELECT count(*) FROM submission WHERE status = 'verified'"))


def awarded_exactly_once(url: str, total: int, env: dict[str, str]) -> None:
    awarded = asyncio.run(fetchval(url, "SELECT count(*) FROM submission WHERE status = 'awarded'"))
    paid = asyncio.run(fetchval(url, "SELECT count(*) FROM submission WHERE points > 0"))
    transfers = asyncio.run(fetchval(url, "SELECT count(*) FROM transfer WHERE code = 'award'"))
    doubled = asyncio.run(fetchval(url, "SELECT count(*) FROM (SELECT ref FROM transfer WHERE code = 'award' "
                                        "GROUP BY ref HAVING count(*) > 2) d"))
    assert (awarded, transfers, doubled) == (total, 2 * paid, 0)
    reconciled = python("-m", "points", "reconcile", env=env)
    assert reconciled.returncode == 0, reconciled.stdout + reconciled.stderr


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

    from points.ops import jobs

    Queue("jifen", connection=redis.Redis.from_url(env["REDIS_URL"]), serializer=JSONSerializer).enqueue(
        jobs.award_pending, job_id=job_id, job_timeout=600)


def test_killed_workers_leave_no_award_stuck(bench):
    common, bench_awards, _ = bench
    rng = random.Random(SEED)
    name = f"jifen_crash_{os.getpid()}"
    url = asyncio.run(common.fresh_database(name))
    try:
        total = 15_000  # several seconds of draining at this machine's 3,000 awards a second: kills land inside it
        asyncio.run(bench_awards.seed(url, total, 300))
        flush_redis()
        env = scratch_env(url)
        left = total
        for kill in range(3):
            worker = Process(f"crash-worker{kill}", ["worker.py"], env)
            enqueue_drain(env, f"crash-drain-{kill}")
            # Kill somewhere inside the drain: once this worker has awarded something, after a random pause.
            wait_for(lambda before=left: verified_left(url) < before, timeout=60, what=f"worker {kill} to award")
            time.sleep(rng.uniform(0.0, 0.3))
            assert children(worker.proc.pid) == [], "worker.py forked a child that would outlive it"
            worker.proc.send_signal(signal.SIGKILL)
            worker.proc.wait()
            left = verified_left(url)
            assert left > 0, "the drain finished before the kill: seed more reports"
        started = time.monotonic()
        last = Process("crash-worker-last", ["worker.py"], env)
        try:
            enqueue_drain(env, "crash-drain-last")
            # 15,000 awards take 5 s on a quiet machine, a minute or more on a busy one (the deadline is stretched)
            wait_for(lambda: verified_left(url) == 0, timeout=120, what="the backlog to drain after the kills")
        finally:
            last.stop()
        print(f"seed {SEED}: drained the rest in {time.monotonic() - started:.1f} s")
        awarded_exactly_once(url, total, env)
        stuck = asyncio.run(fetchval(url, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                          "AND state = 'idle in transaction'"))
        assert stuck == 0
    finally:
        asyncio.run(common.admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def test_lost_and_doubled_enqueues_lose_nothing_and_double_nothing(bench):
    """500 verified reports whose award jobs are dropped (10 %) or sent twice (10 %), then 50 more whose
    enqueue never happened at all (a crash between commit and enqueue): the sweeper finds them within two
    sweep periods, and every report is awarded exactly once (reliability T6)."""
    common, bench_awards, _ = bench
    rng = random.Random(SEED + 6)
    name = f"jifen_crash_t6_{os.getpid()}"
    url = asyncio.run(common.fresh_database(name))
    workers = []
    try:
        asyncio.run(bench_awards.seed(url, 500, 120))
        flush_redis()
        env = scratch_env(url, JIFEN_SWEEP_SECONDS="2", JIFEN_AWARD_BATCH="20")
        for n in range(500):
            roll = rng.random()
            for copy in range(0 if roll < 0.1 else 2 if roll < 0.2 else 1):
                enqueue_drain(env, f"t6-{n}-{copy}")
        workers = [Process(f"t6-worker{n}", ["worker.py"], env) for n in range(2)]
        wait_for(lambda: verified_left(url) == 0, timeout=60, what="the first 500 to be awarded")
        asyncio.run(bench_awards.add_backlog(url, 50, 120, start=501))  # committed, never enqueued
        wait_for(lambda: verified_left(url) == 0, timeout=20, what="the sweeper to find the lost 50")
        awarded_exactly_once(url, 550, env)
    finally:
        for worker in workers:
            worker.stop()
        asyncio.run(common.admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def test_a_killed_app_process_loses_no_order_and_doubles_none(bench):
    """100 members each place 5 orders (every order with its own Idempotency-Key, retried until answered) while
    the app process is SIGKILLed mid-rush and a new one starts on its port: every key ends with at most one
    order, each answer the member got matches the database, the drop of 30 sells exactly 30, and
    reconciliation is clean."""
    import httpx

    from conftest import ONE_ADDRESS, free_port

    common, _, rush = bench
    rng = random.Random(SEED + 7)
    name = f"jifen_crash_rush_{os.getpid()}"
    url = asyncio.run(common.fresh_database(name))
    port = free_port()
    env = scratch_env(url, JIFEN_PORT=str(port), JIFEN_RATE_LIMITS=ONE_ADDRESS)
    servers: list[Process] = []

    def start_app(n: int) -> None:
        servers.append(Process(f"crash-app{n}", ["app.py"], env))
        # Generous: the new process starts while 50 clients still knock on the port and the machine is busy.
        wait_for(lambda: _answers(f"http://127.0.0.1:{port}/healthz"), timeout=90, what="the app to start")

    try:
        flush_redis()
        tokens = asyncio.run(rush.seed_shop(url, 100, 1000, 30))
        start_app(0)
        asks = [(n, k, 2 if k == 4 else 1) for n in range(100) for k in range(5)]  # voucher ×4, then the helmet

        def order(ask) -> tuple[int, dict]:
            n, k, reward = ask
            sid, csrf = tokens[n].split()
            headers = {"Cookie": f"jifen_session={sid}", "X-CSRF-Token": csrf, "Idempotency-Key": f"crash-{n}-{k}"}
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                try:
                    answer = http_post(f"http://127.0.0.1:{port}/api/v1/shop/orders", json={"reward": reward},
                                        headers=headers, timeout=20)
                except httpx.TransportError:
                    time.sleep(0.1)
                    continue
                if answer.status_code in (200, 201, 409):
                    return answer.status_code, answer.json()
                assert answer.status_code in (502, 503), answer.text
                time.sleep(0.1)
            raise AssertionError(f"order {ask} got no answer")

        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(50) as pool:
            futures = [pool.submit(order, ask) for ask in asks]
            wait_for(lambda: asyncio.run(fetchval(url, "SELECT count(*) FROM redemption")) >= rng.randint(20, 150),
                     timeout=60, what="the rush to be under way")
            servers[0].proc.send_signal(signal.SIGKILL)
            servers[0].proc.wait()
            start_app(1)
            answers = [f.result() for f in futures]
        placed = {(a[1]["id"]) for a in answers if a[0] in (200, 201)}
        rows = asyncio.run(_orders(url))
        assert len(rows) == len(placed) and {r["id"] for r in rows} == placed  # each answer is what happened
        assert len({r["idempotency_key"] for r in rows}) == len(rows)  # no key placed two orders
        helmets = [r for r in rows if r["reward"] == 2]
        assert len(helmets) == 30
        assert sum(1 for a in answers if a[0] == 409 and a[1]["error"]["code"] == "sold_out") == 70
        reconciled = python("-m", "points", "reconcile", env=env)
        assert reconciled.returncode == 0, reconciled.stdout + reconciled.stderr
    finally:
        for server in servers:
            if server.proc.poll() is None:
                server.stop()
        asyncio.run(common.admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _answers(address: str) -> bool:
    import httpx

    try:
        return http_get(address, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


async def _orders(url: str) -> list[dict]:
    con = await asyncpg.connect(url)
    try:
        return [dict(r) for r in await con.fetch("SELECT id, reward, idempotency_key FROM redemption")]
    finally:
        await con.close()
