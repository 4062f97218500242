"""Reads as history grows, measured in one run: the same daily activity over 10× the history.

    ./dev bench-growth [--members 20000] [--per-day 2000] [--small 200000] [--large 2000000]

Needs PostgreSQL, Redis and `wrk` (Debian: `apt-get install wrk`).

1. A community with `members` riders and a staff member; `small` reports at `per-day` a day, the newest
   last (each awarded one with its spendable and lifetime transfers), in bulk SQL.
2. The app as docs/operations.md runs it in production (`uvicorn app:app --workers 4`, PostgreSQL, Redis): the p99
   of single requests, one at a time, of the pages and calls members and staff use — with no views kept in
   memory (JIFEN_VIEW_CACHE_MB=0), so that what is timed is the reads.
3. Older history added, at the same daily rate, up to `large` reports; the same p99s again, and their growth.
4. At `large`: requests per second at `--connections` connections (wrk) of `/api/v1/me`, `/api/v1/me/history`
   and the rider's home page, beside a bare litestar endpoint on the same settings measured before and
   after them (the anchor brackets the app's run); the ratio is what docs/benchmark.md records. Each path twice:
   a first pass (`--warm-up` seconds), in which each of the 4 processes meets each of the 1,000 members for
   the first time and reads their views, then the steady rate, with the views kept (web/view_cache.py); and with
   JIFEN_VIEW_CACHE_MB=0, every read afresh.

wrk shares the 2 cores with the servers: absolute rates are floors, the ratios are the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import asyncpg
import httpx
from common import ROOT, admin, env_for, fresh_database, migrated_community

from points.infra.config import Settings
from points.scope import Actor
from web.sessions import Sessions, make_store

ITEMS = ["hazard.fire_exit_blocked", "hazard.ebike_indoor_charging", "order.streetlight_broken",
         "order.garbage_pileup", "order.facility_damaged", "civic.dispute_lead", "order.greenery_damage"]
RIDER_READS = ["/api/v1/me", "/api/v1/me/history", "/api/v1/me/expiring", "/", "/api/v1/tasks"]
STAFF_READS = ["/api/v1/staff/submissions", "/staff/queue", "/staff/dashboard", "/staff/cases/", "/p/bench"]
LOADED = ["/api/v1/me", "/api/v1/me/history", "/"]


async def add_reports(url: str, first_id: int, last_id: int, newest_age_days: float, members: int,
                      per_day: int) -> None:
    """Reports with ids first..last, the last the newest (`newest_age_days` old), `per_day` a day going back;
    one in 200 still waiting in the queue, the rest awarded with their two transfers."""
    con = await asyncpg.connect(url, timeout=60, command_timeout=3600)
    try:
        await con.execute(
            "INSERT INTO submission (id, member, community, item_id, claimed_item_id, units, priority, description, "
            "address, lat, lng, status, local_day, submitted_at, rules_version, request_hash, verify_note, award_note, "
            "award_rules_version, reverse_reason, points, verified_at, awarded_at, out_of_area) "
            "SELECT g, 1 + g % $3, 1, ($4::text[])[1 + g % 7], ($4::text[])[1 + g % 7], 1, 'P3', '', '', "
            "23.46 + (g % 1000) * 0.00002, 116.75 + (g % 997) * 0.00002, "
            "CASE WHEN g % 200 = 0 THEN 'submitted' ELSE 'awarded' END, t::date, t, 'bench', '', '', '', '', '', "
            "CASE WHEN g % 200 = 0 THEN NULL ELSE 5 END, t + interval '1 hour', "
            "CASE WHEN g % 200 = 0 THEN NULL ELSE t + interval '2 hours' END, false "
            "FROM generate_series($1::int, $2::int) g, "
            "LATERAL (SELECT now() - make_interval(secs => ($5::float8 + ($2 - g)::float8 / $6) * 86400)) AS x(t)",
            first_id, last_id, members, ITEMS, newest_age_days, per_day)
        await con.execute(
            "INSERT INTO transfer (id, idempotency_key, debit_account, credit_account, amount, code, reason, ref, "
            "rules_version, created_at) "
            "SELECT 2 * s.id - 1, 'award:submission:' || s.id, 1, a.id, 5, 'award', 'bench', 'submission:' || s.id, "
            "'bench', s.awarded_at FROM submission s JOIN account a ON a.key = 'spendable:member:' || s.member "
            "WHERE s.id BETWEEN $1 AND $2 AND s.status = 'awarded' "
            "UNION ALL SELECT 2 * s.id, 'award:submission:' || s.id || ':lifetime', 2, a.id, 5, 'award', 'bench', "
            "'submission:' || s.id, 'bench', s.awarded_at FROM submission s "
            "JOIN account a ON a.key = 'lifetime:member:' || s.member WHERE s.id BETWEEN $1 AND $2 "
            "AND s.status = 'awarded'", first_id, last_id)
        await con.execute("DELETE FROM month_points")  # the standing board's months, as the award path keeps them
        await con.execute(
            "INSERT INTO month_points (key, community, month, member, points, reached_at) "
            "SELECT a.community || ':' || x.m || ':' || a.member, a.community, x.m, a.member, SUM(t.amount), "
            "MAX(t.created_at) FROM transfer t JOIN account a ON a.id = t.credit_account, "
            "LATERAL (SELECT to_char(t.created_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM') AS m) x "
            "WHERE t.code = 'award' AND a.kind = 'spendable' GROUP BY a.community, a.member, x.m")
        await con.execute(
            "UPDATE account a SET balance = COALESCE((SELECT SUM(amount) FROM transfer WHERE credit_account = a.id), 0) "
            "- COALESCE((SELECT SUM(amount) FROM transfer WHERE debit_account = a.id), 0)")
        for table in ("submission", "transfer"):
            await con.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        await con.execute("VACUUM ANALYZE")
    finally:
        await con.close()


async def sessions_for(url: str, riders: int, staff_id: int) -> tuple[list[str], str]:
    config = Settings.from_env(env_for(url))
    sessions = Sessions(make_store(config), config)
    try:
        members = [await sessions.start(Actor(n + 1, "rider", 1, "", "active"), 0) for n in range(riders)]
        staff = await sessions.start(Actor(staff_id, "staff", 1, "", "active"), 0)
    finally:
        await sessions.close()
    return [s.sid for s in members], staff.sid


def p99_ms(base: str, path: str, session: str, requests: int) -> float:
    with httpx.Client(base_url=base, cookies={"jifen_session": session}, timeout=60) as client:
        for _ in range(10):
            client.get(path)
        times = []
        for _ in range(requests):
            started = time.perf_counter()
            response = client.get(path)
            times.append((time.perf_counter() - started) * 1000)
            if response.status_code != 200:
                raise SystemExit(f"{path}: {response.status_code} {response.text[:300]}")
    return statistics.quantiles(times, n=100)[98]


def wrk_rate(base: str, path: str, tokens: str, connections: int, seconds: int) -> float:
    out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s",
                          "-s", str(ROOT / "bench" / "growth.lua"), base],
                         env={**os.environ, "TOKENS_FILE": tokens, "PATH_TO_GET": path},
                         capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in out:
        raise SystemExit(f"{path}: wrk saw errors:\n{out}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(module: str, env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "uvicorn", module, "--workers", "4", "--port", str(port),
                               "--log-level", "warning", "--no-access-log"], cwd=ROOT, env=env)
    base = f"http://127.0.0.1:{port}"
    for _ in range(120):
        try:
            httpx.get(f"{base}/", timeout=1)
            return server, base
        except httpx.HTTPError:
            time.sleep(0.5)
    server.kill()
    raise SystemExit(f"{module} did not start")


def stop(server: subprocess.Popen) -> None:
    server.terminate()
    server.wait(timeout=30)


def measure(base: str, rider: str, staff: str, requests: int) -> dict[str, float]:
    figures = {path: p99_ms(base, path, rider, requests) for path in RIDER_READS}
    figures.update({path: p99_ms(base, path, staff, requests) for path in STAFF_READS})
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=20_000)
    parser.add_argument("--per-day", type=int, default=2_000)
    parser.add_argument("--small", type=int, default=200_000)
    parser.add_argument("--large", type=int, default=2_000_000)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--warm-up", type=int, default=20, help="seconds of the first pass, in which each process "
                                                                  "meets the members (a home page read afresh costs "
                                                                  "milliseconds)")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("bench-growth needs wrk (Debian: apt-get install wrk)", file=sys.stderr)
        return 2

    async def seed() -> tuple[str, list[str], str]:
        url = await fresh_database("jifen_bench_growth")
        con = await migrated_community(url, "bench", "基准社区", args.members)
        staff_id = (await con.fetchrow(
            "INSERT INTO member (community, role, name, phone, password_hash, status, created_at) "
            "VALUES (1, 'staff', 'staff', '+8613900000000', 'x', 'active', now()) RETURNING id"))["id"]
        await con.close()
        # The newest reports first, with the highest ids; older history later gets the ids below them.
        await add_reports(url, args.large - args.small + 1, args.large, 0.01, args.members, args.per_day)
        riders, staff = await sessions_for(url, 1000, staff_id)
        return url, riders, staff

    started = time.monotonic()
    url, riders, staff = asyncio.run(seed())
    print(f"seeded {args.small:,} reports in {time.monotonic() - started:.0f} s", flush=True)
    env = env_for(url)
    fresh = {**env, "JIFEN_VIEW_CACHE_MB": "0"}  # single requests time the reads, not memory
    server, base = serve("app:app", fresh)
    try:
        small = measure(base, riders[0], staff, args.requests)
    finally:
        stop(server)
    started = time.monotonic()
    asyncio.run(add_reports(url, 1, args.large - args.small, args.small / args.per_day + 0.01, args.members,
                            args.per_day))
    print(f"added {args.large - args.small:,} older reports in {time.monotonic() - started:.0f} s", flush=True)
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
        f.write("\n".join(riders))
    rates: dict[str, float] = {}
    bare, bare_base = serve("bare:app", {**env, "PYTHONPATH": str(ROOT / "bench")})
    try:
        rates["bare (before)"] = wrk_rate(bare_base, "/bare", f.name, args.connections, args.seconds)
    finally:
        stop(bare)
    server, base = serve("app:app", fresh)
    try:
        large = measure(base, riders[0], staff, args.requests)
        for path in LOADED:
            rates[f"{path} (nothing kept)"] = wrk_rate(base, path, f.name, args.connections, args.seconds)
    finally:
        stop(server)
    server, base = serve("app:app", env)
    try:
        for path in LOADED:
            rates[f"{path} (first pass)"] = wrk_rate(base, path, f.name, args.connections, args.warm_up)
            rates[path] = wrk_rate(base, path, f.name, args.connections, args.seconds)
    finally:
        stop(server)
    bare, bare_base = serve("bare:app", {**env, "PYTHONPATH": str(ROOT / "bench")})
    try:
        rates["bare (after)"] = wrk_rate(bare_base, "/bare", f.name, args.connections, args.seconds)
    finally:
        stop(bare)
    os.unlink(f.name)
    asyncio.run(admin('DROP DATABASE IF EXISTS "jifen_bench_growth" WITH (FORCE)'))

    print(f"\np99 of single requests, {args.small:,} → {args.large:,} reports ({args.per_day:,} a day, "
          f"{args.members:,} members):")
    print(f"{'page or call':<32}{'small':>10}{'large':>10}{'growth':>9}")
    for path in [*RIDER_READS, *STAFF_READS]:
        print(f"{path:<32}{small[path]:>8.1f}ms{large[path]:>8.1f}ms{large[path] / small[path]:>8.2f}×")
    anchor = (rates["bare (before)"] + rates["bare (after)"]) / 2
    print(f"\nrequests/s at {args.connections} connections, {args.large:,} reports (uvicorn --workers 4):")
    for name, rate in rates.items():
        print(f"{name:<32}{rate:>10,.0f}/s" + (f"{rate / anchor:>9.2f} of bare" if not name.startswith("bare") else ""))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    sys.exit(main())
