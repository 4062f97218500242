"""Award throughput against this machine's own PostgreSQL limit, measured in the same run.

    ./dev bench [--submissions 20000] [--seconds 10]

1. `pgbench -N` (simple updates) on a scratch database of the same server, with
   1 and 2 clients: what this server does per second with trivial transactions.
2. The award path: a backlog of verified submissions (spread over members,
   items and days, so caps and the first-reporter check do real work) drained
   by 1 and then 2 `worker.py` processes through Redis, each job awarding in
   batches. Every run ends with reconciliation: a fast wrong answer fails.

Prints awards/s beside pgbench's transactions/s, and their ratio. Needs
BENCH_DATABASE_URL (default: the local server's `test` database, used only to
create and drop scratch databases) and BENCH_REDIS_URL (default db 14).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import subprocess
import sys
import time
from urllib.parse import urlsplit

import asyncpg
from common import ADMIN_URL, REDIS_URL, ROOT, admin, env_for, fresh_database, migrated_community

from points.ops import jobs
from rules import load_rules

ITEMS = ["hazard.fire_exit_blocked", "hazard.ebike_indoor_charging", "order.streetlight_broken",
         "order.garbage_pileup", "order.facility_damaged", "civic.dispute_lead", "order.greenery_damage"]


def pgbench(url: str, clients: int, seconds: int) -> float:
    parts = urlsplit(url)
    args = ["-h", parts.hostname or "127.0.0.1", "-p", str(parts.port or 5432), "-U", parts.username or "postgres"]
    name = parts.path.lstrip("/")
    subprocess.run(["pgbench", *args, "-i", "-s", "10", "-q", name], check=True, capture_output=True)
    out = subprocess.run(["pgbench", *args, "-N", "-c", str(clients), "-j", str(min(clients, 2)), "-T",
                          str(seconds), name], check=True, capture_output=True, text=True).stdout
    return float(re.search(r"tps = ([\d.]+)", out).group(1))


async def seed(url: str, submissions: int, members: int) -> None:
    con = await migrated_community(url, "bench", "基准社区", members)
    await con.close()
    await add_backlog(url, submissions, members)


async def add_backlog(url: str, submissions: int, members: int, start: int = 1) -> None:
    """`submissions` verified reports of community 1's members, numbered from `start`."""
    con = await asyncpg.connect(url)
    try:
        version = load_rules(ROOT / "rules" / "default.toml").version
        # Reports ~100 m apart, over four weeks, each member reporting several items: caps bind now and then.
        await con.execute(
            "INSERT INTO submission (member, community, item_id, claimed_item_id, units, description, address, "
            "lat, lng, status, local_day, submitted_at, rules_version, request_hash, verify_note, award_note, "
            "award_rules_version, verified_at) "
            "SELECT 1 + g % $2, 1, ($3::text[])[1 + g % array_length($3::text[], 1)], "
            "($3::text[])[1 + g % array_length($3::text[], 1)], 1, '基准', '', "
            "23.40 + (g % 1000) * 0.001, 116.70 + (g / 1000) * 0.001, 'verified', "
            "current_date - (g % 28), now() - (g % 28) * interval '1 day', $4, '', '', '', '', now() "
            "FROM generate_series($5::int, $5::int + $1 - 1) g", submissions, members, ITEMS, version, start)
        await con.execute("ANALYZE")
    finally:
        await con.close()


def drain(url: str, workers: int, submissions: int) -> float:
    import redis
    from rq import Queue, Worker
    from rq.serializers import JSONSerializer

    connection = redis.Redis.from_url(REDIS_URL)
    connection.flushdb()
    procs = [subprocess.Popen([sys.executable, "worker.py"], cwd=ROOT, env=env_for(url)) for _ in range(workers)]
    try:
        deadline = time.monotonic() + 60
        while len(Worker.all(connection=connection)) < workers:
            if time.monotonic() > deadline:
                raise SystemExit("workers did not start")
            time.sleep(0.05)
        queue = Queue("jifen", connection=connection, serializer=JSONSerializer)
        start = time.perf_counter()
        for n in range(workers):
            queue.enqueue(jobs.award_pending, job_id=f"bench-{n}", job_timeout=600)
        remaining = asyncio.run(_remaining_until_zero(url))
        elapsed = time.perf_counter() - start
        assert remaining == 0
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=30)
    return submissions / elapsed


async def _remaining_until_zero(url: str) -> int:
    con = await asyncpg.connect(url)
    try:
        while True:
            left = await con.fetchval("SELECT count(*) FROM submission WHERE status = 'verified'")
            if left == 0:
                return 0
            await asyncio.sleep(0.02)
    finally:
        await con.close()


def check(url: str, submissions: int) -> str:
    result = subprocess.run([sys.executable, "-m", "points", "reconcile"], cwd=ROOT, env=env_for(url),
                            capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"reconciliation failed:\n{result.stdout}")

    async def counts() -> tuple[int, int, int]:
        con = await asyncpg.connect(url)
        try:
            return (await con.fetchval("SELECT count(*) FROM submission WHERE status = 'awarded'"),
                    await con.fetchval("SELECT count(*) FROM submission WHERE points > 0"),
                    await con.fetchval("SELECT count(*) FROM transfer"))
        finally:
            await con.close()

    awarded, paid, transfers = asyncio.run(counts())
    if awarded != submissions or transfers != 2 * paid:
        raise SystemExit(f"wrong result: {awarded} awarded of {submissions}, {transfers} transfers for {paid} paid")
    return f"{awarded} awarded ({awarded - paid} capped to 0), {transfers} transfers, reconciliation clean"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--submissions", type=int, default=20_000)
    parser.add_argument("--members", type=int, default=2_000)
    parser.add_argument("--seconds", type=int, default=10, help="length of each pgbench run")
    args = parser.parse_args()

    print(f"machine: {os.cpu_count()} cores; PostgreSQL at {urlsplit(ADMIN_URL).hostname}; Redis at {REDIS_URL}")
    pg_url = asyncio.run(fresh_database("jifen_bench_pgbench"))
    tps = {c: pgbench(pg_url, c, args.seconds) for c in (1, 2)}
    asyncio.run(admin('DROP DATABASE IF EXISTS "jifen_bench_pgbench" WITH (FORCE)'))

    rates = {}
    for workers in (1, 2):
        started = time.perf_counter()
        url = asyncio.run(fresh_database("jifen_bench"))
        asyncio.run(seed(url, args.submissions, args.members))
        seeded = time.perf_counter()
        rates[workers] = drain(url, workers, args.submissions)
        drained = time.perf_counter()
        print(f"  {workers} worker(s): {check(url, args.submissions)} "
              f"(seed {seeded - started:.1f} s, drain and stop {drained - seeded:.1f} s, "
              f"check {time.perf_counter() - drained:.1f} s)")
    asyncio.run(admin('DROP DATABASE IF EXISTS "jifen_bench" WITH (FORCE)'))

    print(f"\n{'':24}{'per second':>12}{'vs pgbench -N (same clients)':>32}")
    for n in (1, 2):
        print(f"pgbench -N, {n} client(s) {tps[n]:>12,.0f}")
    for n in (1, 2):
        print(f"awards, {n} worker(s)     {rates[n]:>12,.0f}{rates[n] / tps[n]:>31.2f}×")
    print(f"\nbacklog: {args.submissions:,} verified submissions from {args.members:,} members; "
          f"batch {os.environ.get('JIFEN_AWARD_BATCH', '500')} per transaction")
    return 0


if __name__ == "__main__":
    sys.exit(main())
