"""The shop rush against the same redemption as raw SQL, measured in one run.

    ./dev bench-rush [--clients 500] [--seconds 10]

Needs PostgreSQL, Redis, and `wrk` (Debian: `apt-get install wrk`).

1. Raw SQL: a custom pgbench script on one hot reward row, per transaction a
   conditional balance update, a conditional stock update and the order insert.
2. HTTP throughput: the app in production mode (PostgreSQL, Redis;
   `uvicorn --workers 2`, default settings), wrk with N connections, each
   request a member ordering the same reward: orders per second, wrk's
   p50/p99 latency, and how many orders shared a transaction on average.
3. The sell-out: the same N connections on a drop of 10: exactly 10 orders.
Then the result is checked: stock and orders agree, nothing oversold, no
negative balance, reconciliation clean.

wrk runs on the same 2 cores as the server and takes CPU from it: the HTTP
figure is a floor.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import asyncpg
import httpx
from common import ADMIN_URL, REDIS_URL, ROOT, admin, env_for, fresh_database, migrated_community

from points.infra.config import Settings
from points.scope import Actor
from web.sessions import Sessions, make_store

PGBENCH_SCRIPT = """\\set m random(1, :members)
BEGIN;
UPDATE b_account SET balance = balance - 10 WHERE id = :m AND balance >= 10;
UPDATE b_reward SET stock = stock - 1 WHERE id = 1 AND stock >= 1;
INSERT INTO b_order (member, reward, price) VALUES (:m, 1, 10);
END;
"""


async def raw_sql_rate(members: int, clients: int, seconds: int) -> float:
    url = await fresh_database("jifen_bench_raw")
    con = await asyncpg.connect(url)
    try:
        await con.execute("""
            CREATE TABLE b_account (id int PRIMARY KEY, balance bigint NOT NULL CHECK (balance >= 0));
            CREATE TABLE b_reward (id int PRIMARY KEY, stock int NOT NULL CHECK (stock >= 0));
            CREATE TABLE b_order (id bigserial PRIMARY KEY, member int NOT NULL, reward int NOT NULL,
                                  price bigint NOT NULL, created_at timestamptz NOT NULL DEFAULT now());""")
        await con.execute("INSERT INTO b_account SELECT g, 100000000 FROM generate_series(1, $1) g", members)
        await con.execute("INSERT INTO b_reward VALUES (1, 100000000)")
    finally:
        await con.close()
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as f:
        f.write(PGBENCH_SCRIPT)
    parts = httpx.URL(url)
    out = subprocess.run(["pgbench", "-h", parts.host, "-p", str(parts.port or 5432), "-U", parts.username or "postgres",
                          "-n", "-f", f.name, "-D", f"members={members}", "-c", str(clients), "-j", "2",
                          "-T", str(seconds), "jifen_bench_raw"], capture_output=True, text=True, check=True).stdout
    os.unlink(f.name)
    await admin('DROP DATABASE IF EXISTS "jifen_bench_raw" WITH (FORCE)')
    return float(re.search(r"tps = ([\d.]+)", out).group(1))


async def seed_shop(url: str, members: int, stock: int, drop: int) -> list[str]:
    """The shop and its members, each with a live session: "session-id csrf-token" per member."""
    con = await migrated_community(url, "rush", "抢购社区", members, points=1000)
    try:
        for code, quantity in (("r.voucher", stock), ("r.helmet", drop)):
            reward = await con.fetchval(
                "INSERT INTO reward (community, code, key, name_zh, name_en, description, image, kind, price, "
                "stock, roles, active) VALUES (1, $1, $3, $1, $1, '', '', 'goods', 10, $2, "
                "'rider,resident', true) RETURNING id", code, quantity, f"1:{code}")
            await con.execute("INSERT INTO stock_movement (reward, quantity, reason, created_at) "
                              "VALUES ($1, $2, 'bench', now())", reward, quantity)
        await con.execute("ANALYZE")
    finally:
        await con.close()
    config = Settings.from_env(env_for(url))
    sessions = Sessions(make_store(config), config)
    try:
        started = [await sessions.start(Actor(n + 1, "rider", 1, "", "active"), 0) for n in range(members)]
    finally:
        await sessions.close()
    return [f"{s.sid} {s.csrf}" for s in started]


def wrk(base: str, tokens_file: str, reward: int, clients: int, seconds: int) -> dict[str, float]:
    out = subprocess.run(["wrk", "-t2", f"-c{clients}", f"-d{seconds}s", "--latency", "--timeout", "10s",
                          "-s", str(ROOT / "bench" / "rush.lua"), base],
                         env={**os.environ, "TOKENS_FILE": tokens_file, "REWARD": str(reward)},
                         capture_output=True, text=True, check=True).stdout

    def ms(label: str) -> float:
        value, unit = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M).groups()
        return float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]

    return {"requests_per_s": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
            "p50_ms": ms("50"), "p99_ms": ms("99"),
            "errors": sum(int(x) for x in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))}


async def orders_of(url: str, reward: int) -> tuple[int, int]:
    """The reward's orders, and how many transactions placed them (a batch's orders share their created_at)."""
    con = await asyncpg.connect(url)
    try:
        row = await con.fetchrow("SELECT count(*) AS n, count(DISTINCT created_at) AS batches FROM redemption "
                                 "WHERE reward = $1", reward)
        return row["n"], row["batches"]
    finally:
        await con.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def check(url: str, stock: dict[int, int]) -> str:
    con = await asyncpg.connect(url)
    try:
        problems = []
        for reward, initial in stock.items():
            orders = await con.fetchval("SELECT count(*) FROM redemption WHERE reward = $1", reward)
            left = await con.fetchval("SELECT stock FROM reward WHERE id = $1", reward)
            if orders + left != initial or left < 0:
                problems.append(f"reward {reward}: {orders} orders + {left} left != {initial}")
        negative = await con.fetchval("SELECT count(*) FROM account WHERE balance < 0 AND kind <> 'issuance'")
    finally:
        await con.close()
    if negative:
        problems.append(f"{negative} negative balances")
    reconciled = subprocess.run([sys.executable, "-m", "points", "reconcile"], cwd=ROOT, env=env_for(url),
                                capture_output=True, text=True)
    if reconciled.returncode != 0:
        problems.append("reconciliation failed:\n" + reconciled.stdout)
    return "; ".join(problems) if problems else "correct: nothing oversold, no negative balance, reconciliation clean"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=500)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--pgbench-clients", type=int, default=16)
    args = parser.parse_args()
    members, big, drop = 5000, 10_000_000, 10
    missing = [tool for tool in ("wrk", "pgbench") if shutil.which(tool) is None]
    if missing:
        print(f"bench-rush needs {' and '.join(missing)}: sudo apt-get install {' '.join(missing)}"
              .replace("pgbench", "postgresql-client"), file=sys.stderr)
        return 2

    print(f"machine: {os.cpu_count()} cores; PostgreSQL at {httpx.URL(ADMIN_URL).host}; Redis at {REDIS_URL}")
    raw = asyncio.run(raw_sql_rate(members, args.pgbench_clients, args.seconds))

    url = asyncio.run(fresh_database("jifen_bench_shop"))
    tokens = asyncio.run(seed_shop(url, members, big, drop))
    tokens_file = Path(tempfile.mkdtemp()) / "tokens"
    tokens_file.write_text("\n".join(tokens) + "\n")
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "uvicorn", "app:app", "--workers", "2", "--port", str(port),
                               "--log-level", "warning", "--no-access-log"], cwd=ROOT,
                              env=env_for(url))
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("the app did not start")
            time.sleep(0.2)
        rush = wrk(base, str(tokens_file), 1, args.clients, args.seconds)
        orders, batches = asyncio.run(orders_of(url, 1))
        sellout = wrk(base, str(tokens_file), 2, args.clients, 3)
        sold, _ = asyncio.run(orders_of(url, 2))
    finally:
        server.terminate()
        server.wait(timeout=30)
    verdict = asyncio.run(check(url, {1: big, 2: drop}))
    asyncio.run(admin('DROP DATABASE IF EXISTS "jifen_bench_shop" WITH (FORCE)'))

    rate = orders / args.seconds
    print(f"raw SQL (pgbench, {args.pgbench_clients} clients, one hot row)   {raw:>8,.0f} orders/s")
    print(f"HTTP ({args.clients} connections, uvicorn --workers 2)    {rate:>8,.0f} orders/s"
          f"   {rate / raw:.2f}× raw SQL;  p50 {rush['p50_ms']:.0f} ms, p99 {rush['p99_ms']:.0f} ms, "
          f"{rush['errors']} socket errors; {orders / max(batches, 1):.0f} orders per transaction on average")
    print(f"sell-out: {args.clients} connections on a drop of {drop}: {sold} orders "
          f"(oversold {max(sold - drop, 0)}); p99 {sellout['p99_ms']:.0f} ms")
    print(verdict)
    return 0 if verdict.startswith("correct") and sold == drop else 1


if __name__ == "__main__":
    sys.exit(main())
