"""What both benchmarks need: scratch databases, the app's environment, seeded members."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
ADMIN_URL = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")


def db_url(name: str) -> str:
    return urlunsplit(urlsplit(ADMIN_URL)._replace(path=f"/{name}"))


async def admin(statement: str) -> None:
    con = await asyncpg.connect(ADMIN_URL)
    try:
        await con.execute(statement)
    finally:
        await con.close()


async def fresh_database(name: str) -> str:
    await admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin(f'CREATE DATABASE "{name}"')
    return db_url(name)


def env_for(url: str) -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": url, "REDIS_URL": REDIS_URL, "JIFEN_LOG_LEVEL": "WARNING",
            "JIFEN_SWEEP_SECONDS": "3600", "JIFEN_DATA_DIR": str(ROOT / "data" / "bench")}


async def migrated_community(url: str, code: str, name: str, members: int, points: int = 0) -> asyncpg.Connection:
    """Migrate, then add community 1 with `members` riders (ids 1..n) and their accounts; each rider gets
    `points` as a transfer from issuance, so reconciliation holds. Returns the open connection."""
    subprocess.run([sys.executable, "-m", "points", "migrate"], cwd=ROOT, env=env_for(url), check=True,
                   capture_output=True)
    con = await asyncpg.connect(url)
    await con.execute("INSERT INTO community (code, name, name_en, created_at) VALUES ($1, $2, $1, now())", code, name)
    await con.execute(
        "INSERT INTO account (key, kind, community, balance) VALUES "
        "('issuance:community:1', 'issuance', 1, 0), ('lifetime_issuance:community:1', 'lifetime_issuance', 1, 0)")
    await con.execute(
        "INSERT INTO member (community, role, name, phone, password_hash, status, created_at) "
        "SELECT 1, 'rider', 'r' || g, '+86139' || lpad(g::text, 8, '0'), 'x', 'active', now() "
        "FROM generate_series(1, $1) g", members)
    await con.execute(
        "INSERT INTO account (key, kind, member, community, balance) "
        "SELECT kind || ':member:' || id, kind, id, 1, CASE kind WHEN 'spendable' THEN $1 ELSE 0 END "
        "FROM member, (VALUES ('spendable'), ('lifetime'), ('hold'), ('debt')) AS k(kind)", points)
    if points:
        await con.execute(
            "INSERT INTO transfer (idempotency_key, debit_account, credit_account, amount, code, reason, ref, "
            "rules_version, created_at) SELECT 'bench:grant:' || a.id, 1, a.id, $1, 'bench_grant', 'bench', "
            "'bench', '', now() FROM account a WHERE a.kind = 'spendable'", points)
        await con.execute("UPDATE account SET balance = -($1::bigint * $2::bigint) WHERE id = 1", points, members)
    return con
