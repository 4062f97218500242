"""The test run's machinery: a fresh data directory and database per run (set up here, before `points` is
imported), subprocesses for the app and workers with their own logs, and waiting without sleeping blind.

One leg per run, chosen by JIFEN_TEST_LEG (./dev test runs both when it can):
- ``sqlite``: the embedded default. A fresh data directory, `python app.py` with its in-process worker.
- ``postgres``: a fresh database on JIFEN_TEST_DATABASE_URL's server, Redis at JIFEN_TEST_REDIS_URL,
  `python app.py` plus `python worker.py` processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

ROOT = Path(__file__).resolve().parent.parent
LEG = os.environ.get("JIFEN_TEST_LEG", "sqlite")
TMP = Path(tempfile.mkdtemp(prefix="jifen-test-"))
PASSWORD = "test-password"
# The address the tests' outside systems listen on (receivers, a photo host): on the loopback, which Jifen
# refuses to call unless an operator allows the network, and the one network the tests' apps allow.
OUTSIDE = "127.0.0.9"


def _configure() -> None:
    """Point this process (and the servers it starts) at fresh storage, before points is imported."""
    for name in list(os.environ):
        if name.startswith("JIFEN_") and not name.startswith("JIFEN_TEST_"):  # the tests' own settings stay
            del os.environ[name]
    os.environ.pop("DATABASE_URL", None)
    os.environ.pop("REDIS_URL", None)
    os.environ["JIFEN_DATA_DIR"] = str(TMP / "data")
    if pinned := os.environ.get("JIFEN_TEST_CLOCK"):  # every process of the run reads this one shifted clock
        from datetime import datetime

        from points.clock import OFFSET_VARIABLE, offset_to  # the clock alone: it reads no settings

        target = datetime.fromisoformat(pinned)
        if target.tzinfo is None:
            raise RuntimeError("JIFEN_TEST_CLOCK: give the instant with its zone, e.g. 2026-12-31T23:30:00+08:00")
        os.environ[OFFSET_VARIABLE] = str(offset_to(target))
    os.environ["JIFEN_SWEEP_SECONDS"] = "3600"  # tests that need a quick sweeper start their own
    os.environ["JIFEN_CLOCK_FILE"] = str(TMP / "clock")  # moved by clock_moved(): every process of the run reads it
    os.environ["JIFEN_OUTBOUND_ALLOW"] = f"{OUTSIDE}/32"  # the tests' outside systems; the rest of 127/8 stays inward
    if LEG == "postgres":
        base = os.environ["JIFEN_TEST_DATABASE_URL"]
        name = f"jifen_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        _pg_admin(base, f'CREATE DATABASE "{name}"')
        parts = urlsplit(base)
        os.environ["DATABASE_URL"] = urlunsplit(parts._replace(path=f"/{name}"))
        os.environ["REDIS_URL"] = _redis_of_this_process(os.environ["JIFEN_TEST_REDIS_URL"])
        import redis

        redis.Redis.from_url(os.environ["REDIS_URL"]).flushdb()
    elif LEG != "sqlite":
        raise RuntimeError(f"JIFEN_TEST_LEG: unknown leg {LEG!r}")


def _redis_of_this_process(url: str) -> str:
    """The Redis database of this test process: the one the URL names, or, for the n-th of several pytest-xdist
    workers, the n-th below it (gw0: 15, gw1: 14, …), so that each worker's app, workers and rq queue are its
    own."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not worker.startswith("gw"):
        return url
    parts = urlsplit(url)
    base = int(parts.path.lstrip("/") or 0)
    return urlunsplit(parts._replace(path=f"/{base - int(worker[2:])}"))


def _pg_admin(url: str, statement: str) -> None:
    import asyncpg

    async def run() -> None:
        con = await asyncpg.connect(url)
        try:
            await con.execute(statement)
        finally:
            await con.close()

    asyncio.run(run())


_configure()

from points.infra import db  # noqa: E402  (after _configure, which sets the environment)

# The tests' own statements run on one event loop in a thread of its own, kept for the whole run: its
# connections (SQLite's kept ones, PostgreSQL's pool) outlive a call, as the app's do, instead of a loop and a
# connection per statement; and a test inside another loop (Playwright's sync API keeps one) can use it too.
_loop = asyncio.new_event_loop()
threading.Thread(target=_loop.run_forever, name="tests-db", daemon=True).start()


def run(awaitable):
    """Await a domain coroutine or a piccolo query from a (sync) test."""

    async def wait():
        return await awaitable

    return asyncio.run_coroutine_threadsafe(wait(), _loop).result()


run(db.start(pool_max=4, name="jifen-tests"))


@contextlib.contextmanager
def clock_moved(hours: float) -> Iterator[None]:
    """Every process of the run (app, workers, commands, this one) `hours` on, and back afterwards: "two hours
    later" without a server of its own or a wait."""
    from points import clock

    path = os.environ["JIFEN_CLOCK_FILE"]
    clock.move_to(path, hours * 3600)
    try:
        yield
    finally:
        clock.move_to(path, 0)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def python(*args: str, env: dict[str, str] | None = None, **kwargs: Any) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=ROOT, env={**os.environ, **(env or {})},
                          capture_output=True, text=True, timeout=120, **kwargs)


def older_database(data_dir: Path, migration_id: str) -> Callable[[], None]:
    """An embedded database in `data_dir` made by the migrations up to `migration_id`, for a test to put an older
    release's rows in (sqlite3, `data_dir / "jifen.sqlite3"`); returns what then migrates it to head."""
    env = {"JIFEN_DATA_DIR": str(data_dir), "DATABASE_URL": "", "PICCOLO_CONF": "piccolo_conf"}
    older = python("-m", "piccolo.main", "migrations", "forwards", "points", migration_id, env=env)
    assert older.returncode == 0, older.stdout + older.stderr

    def to_head() -> None:
        done = python("-m", "points", "migrate", env=env)
        assert done.returncode == 0, done.stdout + done.stderr

    return to_head


class Process:
    """A server or worker subprocess with its own log file."""

    def __init__(self, name: str, args: list[str], env: dict[str, str] | None = None):
        self.log = TMP / f"{name}.log"
        self.proc = subprocess.Popen([sys.executable, *args], cwd=ROOT, env={**os.environ, **(env or {})},
                                     stdout=self.log.open("w"), stderr=subprocess.STDOUT)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15 * PATIENCE)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise AssertionError(f"{self.log.name}: did not stop within {15 * PATIENCE} s of SIGTERM") from None

    def text(self) -> str:
        return self.log.read_text(errors="replace")


def start_server(name: str, env: dict[str, str] | None = None) -> tuple[Process, str]:
    port = free_port()
    server = Process(name, ["app.py"], {"JIFEN_PORT": str(port), "JIFEN_RATE_LIMITS": ONE_ADDRESS, **(env or {})})
    url = f"http://127.0.0.1:{port}"
    wait_for(lambda: _healthy(url) or server.proc.poll() is not None, timeout=30, what=f"{name} to start")
    assert server.proc.poll() is None, server.text()
    return server, url


# One TLS context for every request the tests send with httpx's functions: httpx builds one and loads the CA
# store per call otherwise (~50 ms of CPU each; polled every 50 ms, that kept a core busy while a server started).
TLS = ssl.create_default_context()


def http_get(url: str, **kw: Any) -> httpx.Response:
    return httpx.get(url, verify=TLS, **kw)


def http_post(url: str, **kw: Any) -> httpx.Response:
    return httpx.post(url, verify=TLS, **kw)


def _healthy(url: str) -> bool:
    try:
        return http_get(f"{url}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


# How much slower than a quiet machine a busy one may be (both CPUs taken by something else, the suite's own
# parallel workers): every deadline is stretched by it. A deadline is only reached when something is wrong, so
# a generous one costs a passing run nothing.
PATIENCE = 4


def wait_for(check: Callable[[], Any], timeout: float = 20, what: str = "condition") -> Any:
    """Poll `check` until it is true; fail after `timeout` seconds of a quiet machine (times PATIENCE)."""
    deadline = time.monotonic() + timeout * PATIENCE
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout * PATIENCE:g} s waiting for {what}")
        time.sleep(0.05)


# Every test client is 127.0.0.1: test servers lift the per-address and per-member limits unless a test of the
# limits sets its own; the per-phone lock-out stays.
ONE_ADDRESS = "login_ip=0/1,code_ip=0/1,register_ip=0/1,submit_ip=0/1,submit_member=0/1,site_code_ip=0/1"


# A mainland mobile number on its own or in E.164 (+86…), not digits inside a longer word (a hex request id).
FULL_PHONE = re.compile(r"(?:(?<=\+86)|(?<![0-9A-Za-z*]))1[3-9]\d{9}(?![0-9A-Za-z])")
PRECISE_PLACE = re.compile(r"(?<![\d.:])-?\d{1,3}\.\d{4,}(?![\d.])")  # not a duration (0:00:00.0299)


def personal_data(text: str) -> list[str]:
    """Full mainland phone numbers and coordinates with more than 3 decimals in `text` (T24)."""
    return FULL_PHONE.findall(text) + PRECISE_PLACE.findall(text)


def personal_data_in_logs() -> list[str]:
    """Every server and worker log this run wrote (the shared stack and the servers tests started)."""
    return [f"{log.name}: {hit}" for log in sorted(TMP.glob("*.log")) for hit in personal_data(log.read_text())]


def personal_data_in_audit() -> list[str]:
    rows = run(db.sql("SELECT id, details FROM audit_event"))
    return [f"audit_event {r['id']}: {hit}" for r in rows for hit in personal_data(str(r["details"]))]


