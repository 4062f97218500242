"""Test harness: the system as its users meet it.

One leg per run, chosen by JIFEN_TEST_LEG (./dev test runs both when it can):
- ``sqlite``: the embedded default. A fresh data directory, `python app.py`
  with its in-process worker, no Redis.
- ``postgres``: a fresh database on JIFEN_TEST_DATABASE_URL's server, Redis at
  JIFEN_TEST_REDIS_URL, `python app.py` plus two `python worker.py` processes.

Every test talks HTTP to that real server. Tests also call the domain
(`points.*`) in this process to set up data quickly and to look at the ledger
directly; both share the one database. At the end, reconciliation must find no
mismatch and the server log must hold no unhandled error.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import io
import itertools
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent
LEG = os.environ.get("JIFEN_TEST_LEG", "sqlite")
TMP = Path(tempfile.mkdtemp(prefix="jifen-test-"))
PASSWORD = "test-password"


def _configure() -> None:
    """Point this process (and the servers it starts) at fresh storage, before points is imported."""
    for name in list(os.environ):
        if name.startswith("JIFEN_") and not name.startswith("JIFEN_TEST_"):  # the tests' own settings stay
            del os.environ[name]
    os.environ.pop("DATABASE_URL", None)
    os.environ.pop("REDIS_URL", None)
    os.environ["JIFEN_DATA_DIR"] = str(TMP / "data")
    if pinned := os.environ.get("JIFEN_TEST_CLOCK"):  # every process of the run reads this one shifted clock
        from datetime import UTC, datetime

        target = datetime.fromisoformat(pinned)
        if target.tzinfo is None:
            raise RuntimeError("JIFEN_TEST_CLOCK: give the instant with its zone, e.g. 2026-12-31T23:30:00+08:00")
        os.environ["JIFEN_CLOCK_OFFSET_SECONDS"] = str((target - datetime.now(UTC)).total_seconds())
    os.environ["JIFEN_SWEEP_SECONDS"] = "3600"  # tests that need a quick sweeper start their own
    if LEG == "postgres":
        base = os.environ["JIFEN_TEST_DATABASE_URL"]
        name = f"jifen_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        _pg_admin(base, f'CREATE DATABASE "{name}"')
        parts = urlsplit(base)
        os.environ["DATABASE_URL"] = urlunsplit(parts._replace(path=f"/{name}"))
        os.environ["REDIS_URL"] = os.environ["JIFEN_TEST_REDIS_URL"]
        import redis

        redis.Redis.from_url(os.environ["REDIS_URL"]).flushdb()
    elif LEG != "sqlite":
        raise RuntimeError(f"JIFEN_TEST_LEG: unknown leg {LEG!r}")


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

from points import (  # noqa: E402  (after _configure, which sets the environment)
    communities,
    db,
    ledger,
    members,
)
from points.demo import GRIDS  # noqa: E402
from points.ledger import (  # noqa: E402
    ISSUANCE,
    SPENDABLE,
    TransferSpec,
    community_account_key,
    member_account_key,
)


def run(awaitable):
    """Await a domain coroutine or a piccolo query from a (sync) test."""

    async def wait():
        return await awaitable

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(wait())
    # A loop runs in this thread already (Playwright's sync API keeps one): use a thread of our own.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, wait()).result()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def python(*args: str, env: dict[str, str] | None = None, **kwargs: Any) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=ROOT, env={**os.environ, **(env or {})},
                          capture_output=True, text=True, timeout=120, **kwargs)


class Process:
    """A server or worker subprocess with its own log file."""

    def __init__(self, name: str, args: list[str], env: dict[str, str] | None = None):
        self.log = TMP / f"{name}.log"
        self.proc = subprocess.Popen([sys.executable, *args], cwd=ROOT, env={**os.environ, **(env or {})},
                                     stdout=self.log.open("w"), stderr=subprocess.STDOUT)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise AssertionError(f"{self.log.name}: did not stop within 15 s of SIGTERM") from None

    def text(self) -> str:
        return self.log.read_text(errors="replace")


def start_server(name: str, env: dict[str, str] | None = None) -> tuple[Process, str]:
    port = free_port()
    server = Process(name, ["app.py"], {"JIFEN_PORT": str(port), "JIFEN_RATE_LIMITS": ONE_ADDRESS, **(env or {})})
    url = f"http://127.0.0.1:{port}"
    wait_for(lambda: _healthy(url) or server.proc.poll() is not None, timeout=30, what=f"{name} to start")
    assert server.proc.poll() is None, server.text()
    return server, url


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def wait_for(check: Callable[[], Any], timeout: float = 20, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


# Every test client is 127.0.0.1: test servers lift the per-address and per-member limits unless a test of the
# limits sets its own; the per-phone lock-out stays.
ONE_ADDRESS = "login_ip=0/1,code_ip=0/1,register_ip=0/1,submit_ip=0/1,submit_member=0/1"


@pytest.fixture(scope="session")
def stack() -> Iterator[dict[str, Any]]:
    migrated = python("-m", "points", "migrate")
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr
    server, url = start_server("server")
    workers = [Process(f"worker{n}", ["worker.py"]) for n in range(2)] if LEG == "postgres" else []
    yield {"url": url, "server": server, "workers": workers}
    for process in [server, *workers]:
        process.stop()
    for process in [server, *workers]:
        log = process.text()
        assert "Traceback" not in log and "unhandled error" not in log, f"{process.log.name}:\n{log[-4000:]}"
    leaks = personal_data_in_logs() + personal_data_in_audit()
    assert not leaks, "personal data where it must not be:\n" + "\n".join(leaks[:20])
    reconciled = python("-m", "points", "reconcile")
    assert reconciled.returncode == 0, reconciled.stdout + reconciled.stderr


FULL_PHONE = re.compile(r"(?<![\d*])1[3-9]\d{9}(?!\d)")
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


def pytest_sessionfinish(session, exitstatus):
    if LEG == "postgres":
        base = os.environ["JIFEN_TEST_DATABASE_URL"]
        name = urlsplit(os.environ["DATABASE_URL"]).path.lstrip("/")
        _pg_admin(base, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class User:
    """A member as a client holds them: the session cookie and its CSRF token (or an API token)."""

    id: int
    role: str
    phone: str
    session: str | None
    csrf: str | None
    community_id: int
    bearer: str | None = None


SESSION_COOKIE = "jifen_session"


def user_from(response: httpx.Response, phone: str) -> User:
    body = response.json()
    return User(body["member"]["id"], body["member"]["role"], phone, response.cookies[SESSION_COOKIE],
                body["csrf_token"], body["member"]["community_id"])


class Api:
    """HTTP calls as a logged-in member (or anonymously with user=None).

    The client keeps no cookie jar: each call sends the given user's session cookie and CSRF token, as
    that member's browser would, so one client can speak for many members.
    """

    def __init__(self, url: str):
        self.url = url
        # Idle connections are dropped before uvicorn's 5 s keep-alive closes them under us.
        self.http = httpx.Client(base_url=url, timeout=60, limits=httpx.Limits(keepalive_expiry=2))

    def request(self, method: str, path: str, user: User | None = None, **kwargs: Any) -> httpx.Response:
        headers = dict(kwargs.pop("headers", {}))
        if user is not None and user.bearer:
            headers.setdefault("Authorization", f"Bearer {user.bearer}")
        elif user is not None:
            headers.setdefault("Cookie", f"{SESSION_COOKIE}={user.session}")
            if user.csrf:
                headers.setdefault("X-CSRF-Token", user.csrf)
        self.http.cookies.clear()
        return self.http.request(method, path, headers=headers, **kwargs)

    def get(self, path: str, user: User | None = None, **kw: Any) -> httpx.Response:
        return self.request("GET", path, user, **kw)

    def post(self, path: str, user: User | None = None, **kw: Any) -> httpx.Response:
        return self.request("POST", path, user, **kw)

    def login(self, phone: str, password: str = PASSWORD) -> httpx.Response:
        return self.post("/api/v1/auth/login", json={"phone": phone, "password": password})

    def user(self, phone: str, password: str = PASSWORD) -> User:
        """Log in and return the member as a client holds them."""
        response = self.login(phone, password)
        assert response.status_code == 200, response.text
        return user_from(response, phone)

    def submit(self, user: User, item: str, photos: list[bytes] | None = None, key: str | None = None,
               **fields: Any) -> httpx.Response:
        # Always multipart, as a phone's FormData is: fields are parts without a file name.
        parts = [(name, (None, str(value))) for name, value in {"item": item, **fields}.items()]
        parts += [("photos", (f"p{i}.jpg", p, "image/jpeg")) for i, p in enumerate(photos or [])]
        headers = {"Idempotency-Key": key} if key else {}
        return self.post("/api/v1/submissions", user, files=parts, headers=headers)

    def verify(self, staff: User, sid: int, **body: Any) -> httpx.Response:
        return self.post(f"/api/v1/staff/submissions/{sid}/verify", staff, json=body)

    def reject(self, staff: User, sid: int, reason: str, note: str = "") -> httpx.Response:
        return self.post(f"/api/v1/staff/submissions/{sid}/reject", staff, json={"reason": reason, "note": note})

    def submission(self, user: User, sid: int) -> dict[str, Any]:
        response = self.get(f"/api/v1/submissions/{sid}", user)
        assert response.status_code == 200, response.text
        return response.json()

    def balance(self, user: User) -> dict[str, int]:
        return self.get("/api/v1/me", user).json()["balance"]

    def wait_awarded(self, user: User, sid: int, timeout: float = 20) -> dict[str, Any]:
        return wait_for(lambda: (s := self.submission(user, sid))["status"] == "awarded" and s,
                        timeout=timeout, what=f"submission {sid} to be awarded")


@pytest.fixture(scope="session")
def api(stack) -> Api:
    return Api(stack["url"])


@pytest.fixture(autouse=True)
def reconciled(request):
    """After every test that used the system, every balance, award, stock level and hold reconciles."""
    yield
    if "stack" in request.fixturenames:
        from points import reconciliation

        assert run(reconciliation.run()) == []


_phones = itertools.count(int(time.time() * 10) % 10**7 * 10)
_codes = itertools.count(1)


def new_phone() -> str:
    return f"139{next(_phones) % 10**8:08d}"


@dataclass
class Community:
    id: int
    staff: User
    riders: list[User]
    residents: list[User]


@pytest.fixture
def make_community(api: Api) -> Callable[[], Community]:
    """A fresh community with grids, one staff member, two riders and two residents, all logged in."""

    def make() -> Community:
        code = f"t{os.getpid()}x{next(_codes)}"
        cid = run(communities.create_community(code, f"测试社区{code}", f"Test {code}", GRIDS))

        def member(role: str, platform: str | None = None) -> User:
            phone = new_phone()
            run(members.create_member(cid, role, f"{role}-{phone[-4:]}", phone, PASSWORD, platform))
            return api.user(phone)

        return Community(cid, member("staff"), [member("rider", "meituan"), member("rider", "eleme")],
                         [member("resident"), member("resident")])

    return make


@pytest.fixture
def community(make_community) -> Community:
    return make_community()


# A point inside grid G1 of the demo layout, and helpers to move a few metres from it.
G1 = (23.4662, 116.7605)


def near(metres_north: float = 0, metres_east: float = 0, base: tuple[float, float] = G1) -> dict[str, float]:
    import math

    lat = base[0] + metres_north / 111_000
    lng = base[1] + metres_east / (111_000 * math.cos(math.radians(base[0])))
    return {"lat": round(lat, 7), "lng": round(lng, 7)}


def photo(width: int = 640, height: int = 480, fmt: str = "JPEG", gps: tuple[float, float] | None = (23.4662, 116.7605),
          taken: str = "2026:11:20 08:30:00", seed: int | None = None, quality: int = 90) -> bytes:
    """A photo of a made-up scene (blocks of colour): a new scene each call, or the scene `seed` names (the
    same picture at any size), so that only a test that means to send one picture twice does."""
    import random

    from PIL import Image, ImageDraw

    rng = random.Random(seed if seed is not None else os.urandom(8))
    scene = Image.new("RGB", (120, 90), (180, 40, 40))
    draw = ImageDraw.Draw(scene)
    for _ in range(30):
        x, y = rng.randrange(110), rng.randrange(80)
        draw.rectangle((x, y, x + rng.randrange(5, 40), y + rng.randrange(5, 30)),
                       fill=(rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    image = scene.resize((width, height), Image.Resampling.NEAREST)
    exif = image.getexif()
    exif.get_ifd(0x8769)[0x9003] = taken
    if gps:
        def dms(value: float) -> tuple[float, float, float]:
            d = int(value)
            m = int((value - d) * 60)
            return (float(d), float(m), round(((value - d) * 60 - m) * 60, 4))

        exif.get_ifd(0x8825).update({1: "N", 2: dms(gps[0]), 3: "E", 4: dms(gps[1])})
    out = io.BytesIO()
    image.save(out, format=fmt, exif=exif, **({"quality": quality} if fmt == "JPEG" else {}))
    return out.getvalue()


def grant(community_id: int, member_id: int, points: int) -> None:
    """Give a member points as the ledger would for earned awards (a test's shortcut past reporting)."""
    keys = [community_account_key(ISSUANCE, community_id), member_account_key(SPENDABLE, member_id)]
    ids = run(ledger.accounts_by_key(keys))
    run(db.write(lambda: ledger.post([TransferSpec(f"test:grant:{member_id}:{points}:{os.urandom(4).hex()}",
                                                   ids[keys[0]], ids[keys[1]], points, "test_grant",
                                                   "test grant", "test")])))


def signed_in(member_id: int, role: str, community_id: int) -> User:
    """A live session for a member, written straight into the server's session store (a test's shortcut
    past logging in, for tests that need hundreds of members)."""
    from points.config import settings
    from points.scope import Actor
    from web.sessions import Sessions, make_store

    async def start():
        sessions = Sessions(make_store(settings()), settings())
        try:
            return await sessions.start(Actor(member_id, role, community_id, "", "active"), 0)
        finally:
            await sessions.close()

    session = run(start())
    return User(member_id, role, "", session.sid, session.csrf, community_id)


@pytest.fixture
def jpeg() -> bytes:
    return photo()


def requires_rq(reason: str = "needs Redis and worker.py (the production leg)"):
    return pytest.mark.skipif(LEG != "postgres", reason=reason)


__all__ = ["Api", "Community", "User", "db", "near", "personal_data", "photo", "python", "run", "signed_in", "start_server",
           "user_from", "wait_for"]
