"""Test harness: the system as its users meet it.

Every test talks HTTP to a real server (`python app.py`, and `worker.py` processes on the production leg);
tests also call the domain (`points.*`) in this process to set up data quickly and to look at the ledger
directly; both share the one database. At the end, reconciliation must find no mismatch, the server log
must hold no unhandled error, and no log or audit row may hold personal data. The machinery lives in
harness.py (processes, the run's storage), client.py (the API client) and makers.py (test data); the
fixtures live here, and tests import the helpers from here.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

from client import SESSION_COOKIE, Api, User, user_from
from harness import (
    LEG,
    ONE_ADDRESS,
    PASSWORD,
    ROOT,
    TMP,
    Process,
    _pg_admin,
    clock_moved,
    free_port,
    http_get,
    http_post,
    personal_data,
    personal_data_in_audit,
    personal_data_in_logs,
    python,
    run,
    start_server,
    wait_for,
)
from makers import (
    G1,
    Community,
    as_member,
    grant,
    member,
    near,
    new_phone,
    next_code,
    photo,
    requires_rq,
    signed_in,
)
from points.infra import db
from points.ops.demo import GRIDS
from points.people import communities


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
        # Redis ran throughout: a worker that lost it was not taking jobs (and backed off for up to a minute).
        assert "could not connect to Redis" not in log, f"{process.log.name}:\n{log[-4000:]}"
    leaks = personal_data_in_logs() + personal_data_in_audit()
    assert not leaks, "personal data where it must not be:\n" + "\n".join(leaks[:20])
    reconciled = python("-m", "points", "reconcile")
    assert reconciled.returncode == 0, reconciled.stdout + reconciled.stderr


# The longest modules, started first: with the suite spread over pytest-xdist workers a module at a time, one
# started last would keep its worker busy while the others wait.
LONGEST_FIRST = ("test_ledger_model.py", "test_malformed.py", "test_crash.py", "test_forwarding.py", "test_access.py",
                 "test_tasks.py", "test_shop.py", "test_photo_store.py", "test_demo.py", "test_expiry.py")


def pytest_collection_modifyitems(config, items):
    """The longest modules first; and the production leg leaves out what is the same on both legs: pure tests
    (no server, no database), what runs the embedded default whatever the leg, and the pages in Chromium (the
    same pages over the same flows)."""
    rank = {name: n for n, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))
    if LEG != "postgres":
        return
    same = pytest.mark.skip(reason="the same on both legs: run on the embedded leg")
    for item in items:
        if item.get_closest_marker("pure") or item.get_closest_marker("embedded_default") or "browser" in getattr(item, "fixturenames", ()):
            item.add_marker(same)


def pytest_sessionfinish(session, exitstatus):
    run(db.stop())  # the tests' own connections, before their database goes
    if LEG == "postgres":
        base = os.environ["JIFEN_TEST_DATABASE_URL"]
        name = urlsplit(os.environ["DATABASE_URL"]).path.lstrip("/")
        _pg_admin(base, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def api(stack) -> Api:
    return Api(stack["url"])


@pytest.fixture(autouse=True)
def reconciled(request):
    """After every test that used the system, every balance, award, stock level and hold reconciles."""
    yield
    if "stack" in request.fixturenames:
        from points.ops import reconciliation

        assert run(reconciliation.run()) == []


def new_community(api: Api) -> Community:
    """A fresh community with grids, one staff member, two riders and two residents, all signed in (sessions
    written straight to the store; each can also sign in over HTTP with PASSWORD)."""
    code = next_code()
    cid = run(communities.create_community(code, f"测试社区{code}", f"Test {code}", GRIDS))
    return Community(cid, member(cid, "staff"), [member(cid, "rider", "meituan"), member(cid, "rider", "eleme")],
                     [member(cid, "resident"), member(cid, "resident")])


@pytest.fixture
def make_community(api: Api) -> Callable[[], Community]:
    return lambda: new_community(api)


@pytest.fixture
def community(make_community) -> Community:
    return make_community()


@pytest.fixture
def place(tmp_path) -> Iterator[dict[str, str]]:
    """The environment of an empty place to restore into: a data directory, and on the production leg an
    empty database on the same server (dropped afterwards)."""
    env = {"JIFEN_DATA_DIR": str(tmp_path / "restored"), "DATABASE_URL": "", "REDIS_URL": ""}
    base = os.environ.get("JIFEN_TEST_DATABASE_URL", "")
    name = f"jifen_restore_{uuid.uuid4().hex[:8]}"
    if LEG == "postgres":
        _pg_admin(base, f'CREATE DATABASE "{name}"')
        env["DATABASE_URL"] = urlunsplit(urlsplit(base)._replace(path=f"/{name}"))
    yield env
    if LEG == "postgres":
        _pg_admin(base, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def jpeg() -> bytes:
    return photo()


__all__ = ["G1", "LEG", "as_member", "clock_moved", "new_community", "ONE_ADDRESS", "PASSWORD", "ROOT", "SESSION_COOKIE", "TMP", "Any", "Api", "Community", "Process",
           "User", "free_port", "grant", "http_get", "http_post", "near", "new_phone", "personal_data", "photo", "python", "requires_rq", "run",
           "signed_in", "start_server", "user_from", "wait_for"]


@pytest.fixture(scope="module")
def browser():
    """Debian's headless Chromium, one per test module (tests marked `needs_chromium` skip without it)."""
    from playwright.sync_api import sync_playwright

    from browsing import CHROMIUM

    with sync_playwright() as p:
        # Playwright turns the back/forward cache off; a member's Chrome has it on (going back shows the
        # page as it was, form and all), and the report tests go back as members do.
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"],
                                     ignore_default_args=["--disable-back-forward-cache"])
        yield chromium
        chromium.close()
