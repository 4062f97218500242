"""What an attacker or an operator meets: the lock-out through every door and spelling, dependencies that go
down, the event loop under a burst of password hashing, spreadsheet formulas in exports, the HTTPS cookie."""

from __future__ import annotations

import asyncio
import os
import subprocess
from concurrent.futures import ThreadPoolExecutor

import httpx

from conftest import (
    LEG,
    PASSWORD,
    TMP,
    Api,
    Process,
    http_get,
    new_phone,
    requires_rq,
    start_server,
    wait_for,
)
from points.people import passwords

SPELLINGS = ["{d}", "{a} {b} {c}", "{a}-{b}-{c}", "+86{d}", "0086{d}", "+86 {a} {b} {c}"]


def spell(phone: str, how: str) -> str:
    d = phone[-11:]
    return how.format(d=d, a=d[:3], b=d[3:7], c=d[7:])


class Browser:
    """A signed-out browser on the login page: it keeps its cookies and sends the page's form token."""

    def __init__(self, url: str):
        self.http = httpx.Client(base_url=url, follow_redirects=False, timeout=30)
        page = self.http.get("/login")
        self.token = page.text.split('name="_csrf_token" value="')[1].split('"')[0]

    def login(self, phone: str, password: str) -> httpx.Response:
        return self.http.post("/login", data={"_csrf_token": self.token, "phone": phone, "password": password})

    def code_login(self, phone: str, code: str) -> httpx.Response:
        return self.http.post("/login/code", data={"_csrf_token": self.token, "phone": phone, "code": code})


def test_the_lock_out_holds_through_both_doors_for_any_spelling_across_processes(community):
    """Ten wrong passwords, sent through the API and the page of two app processes, each number spelt another
    way: then the right password is refused everywhere, by password and by code, in Chinese on the page."""
    rider = community.riders[0]
    servers = [start_server(f"lockout{n}") for n in range(2 if LEG == "postgres" else 1)]
    try:
        apis = [Api(url) for _, url in servers]
        browsers = [Browser(url) for _, url in servers]
        for n in range(10):
            phone = spell(rider.phone, SPELLINGS[n % len(SPELLINGS)])
            if n % 2:
                answer = browsers[n % len(browsers)].login(phone, "wrong-password")
                assert answer.status_code == 401 and "手机号或密码错误" in answer.text
            else:
                answer = apis[n % len(apis)].login(phone, "wrong-password")
                assert answer.status_code == 401 and answer.json()["error"]["code"] == "wrong_password"
        for how in SPELLINGS:
            phone = spell(rider.phone, how)
            for api in apis:
                locked = api.login(phone, PASSWORD)
                assert locked.status_code == 429 and locked.json()["error"]["field"] == "phone"
                by_code = api.post("/api/v1/auth/login/code", json={"phone": phone, "code": "123456"})
                assert by_code.status_code == 429
            for browser in browsers:
                page = browser.login(phone, PASSWORD)
                assert page.status_code == 429 and "操作过于频繁" in page.text
                assert "jifen_session" not in page.headers.get("set-cookie", "")
                assert browser.code_login(phone, "123456").status_code == 429
        assert apis[0].login(community.riders[1].phone).status_code == 200  # nobody else is locked
    finally:
        for server, _ in servers:
            server.stop()


def test_concurrent_guesses_are_counted_before_they_are_checked(community):
    """99 wrong guesses and the right password at once: no more than ten are ever checked."""
    rider = community.residents[0]
    server, url = start_server("guesses")
    try:
        api = Api(url)
        guesses = ["wrong-password"] * 99 + [PASSWORD]
        with ThreadPoolExecutor(25) as pool:
            answers = list(pool.map(lambda p: api.login(rider.phone, p).status_code, guesses))
        assert answers.count(429) >= 90 and answers.count(401) + answers.count(200) <= 10
    finally:
        server.stop()


def test_a_successful_sign_in_does_not_count_as_a_failure(community):
    rider = community.residents[1]
    server, url = start_server("gives-back", {"JIFEN_RATE_LIMITS": "login_phone=2/900"})
    try:
        api = Api(url)
        assert [api.login(rider.phone).status_code for _ in range(5)] == [200] * 5
        assert api.login(rider.phone, "wrong-password").status_code == 401
        assert api.login(rider.phone).status_code == 200
    finally:
        server.stop()


def test_the_session_cookie_has_the_host_prefix_over_https(api, community):
    """Behind an HTTPS proxy (X-Forwarded-Proto from a trusted address) the cookie is __Host-: Secure, path /,
    no Domain; a browser sends it back under that name and the session works."""
    browser = httpx.Client(base_url=api.url, timeout=30)
    response = browser.post("/api/v1/auth/login", json={"phone": community.riders[1].phone, "password": PASSWORD},
                            headers={"X-Forwarded-Proto": "https"})
    assert response.status_code == 200, response.text
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("__Host-jifen_session=") and "Secure" in cookie and "Path=/" in cookie
    assert "domain" not in cookie.lower()
    sid = cookie.split(";")[0].split("=", 1)[1]
    me = http_get(f"{api.url}/api/v1/me", headers={"Cookie": f"__Host-jifen_session={sid}"})
    assert me.status_code == 200 and me.json()["member"]["id"] == community.riders[1].id


def test_exports_neutralise_spreadsheet_formulas(api, community):
    """A text that a spreadsheet would run (=, +, -, @ first) is exported with a leading apostrophe."""
    from conftest import run
    from points.infra import db
    from points.ledger import transfers as ledger
    from points.ledger.transfers import TransferSpec

    rider, staff = community.riders[0], community.staff
    issuance, spendable = f"issuance:community:{community.id}", f"spendable:member:{rider.id}"
    ids = run(ledger.accounts_by_key([issuance, spendable]))
    reasons = ["=cmd|' /C calc'!A0", "+1+1", "-2+3", "@SUM(A1)", "奖励 =1"]
    run(db.write(lambda: ledger.post([TransferSpec(f"test:formula:{rider.id}:{n}", ids[issuance], ids[spendable], 1,
                                                   "test_grant", reason, "test") for n, reason in enumerate(reasons)])))
    export = api.get("/staff/export/ledger", staff)
    assert export.status_code == 200
    cells = [line.rsplit(",", 1)[-1] for line in export.text.splitlines()]
    for reason in reasons[:4]:
        assert f"'{reason}" in cells and reason not in cells
    assert "奖励 =1" in cells  # only a formula's first character is a danger


def test_password_hashing_leaves_the_event_loop_free(community):
    """40 logins of unknown numbers at once (each ~90 ms of scrypt, checked against the dummy hash): every one
    is refused, and plain requests are answered all through the burst. What keeps them answered is that the
    hashing runs off the event loop: while eight hashes run, the loop goes on turning — counted, not timed,
    so a busy machine cannot fail it (inline hashing would let it turn about once per hash)."""
    server, url = start_server("kdf")
    try:
        api = Api(url)
        probe = httpx.Client(base_url=url, timeout=60)
        answered = 0
        with ThreadPoolExecutor(40) as pool:
            burst = [pool.submit(api.login, new_phone(), "wrong-password") for _ in range(40)]
            while not all(f.done() for f in burst):
                assert probe.get("/healthz").status_code == 200
                answered += 1
        assert all(f.result().status_code == 401 for f in burst)
        assert answered >= 1
    finally:
        server.stop()

    async def turns_while_hashing() -> tuple[int, list[bool]]:
        turns = 0
        hashing = asyncio.gather(*(passwords.matches("wrong-password", passwords.DUMMY_HASH) for _ in range(8)))
        while not hashing.done():
            await asyncio.sleep(0)
            turns += 1
        return turns, await hashing

    turns, results = asyncio.run(turns_while_hashing())
    assert results == [False] * 8
    assert turns >= 100, f"the event loop turned only {turns} times while 8 passwords were hashed"


@requires_rq()
def test_redis_down_gives_503_and_readiness_says_which(community):
    """A Redis that is not there: signed-in requests answer 503 with Retry-After (API and page), /healthz stays
    ok (liveness), /readyz names Redis down (503) and the database ok; worker.py waits instead of exiting."""
    port = _free_port()
    env = {"REDIS_URL": f"redis://127.0.0.1:{port}/0"}
    server, url = start_server("no-redis", env)
    worker = Process("no-redis-worker", ["worker.py"], env)
    redis_server = None
    try:
        cookie = {"Cookie": "jifen_session=" + "x" * 43}
        api = http_get(f"{url}/api/v1/me", headers=cookie, timeout=30)
        assert api.status_code == 503 and api.json()["error"]["code"] == "service_unavailable"
        assert int(api.headers["retry-after"]) > 0
        page = http_get(f"{url}/", headers={**cookie, "Cookie": cookie["Cookie"] + "; lang=zh"}, timeout=30)
        assert page.status_code == 503 and "服务暂时不可用" in page.text
        assert http_get(f"{url}/healthz").json() == {"status": "ok"}
        ready = http_get(f"{url}/readyz", timeout=30)
        assert ready.status_code == 503 and ready.json() == {"status": "unavailable", "database": "ok",
                                                              "redis": "down"}
        wait_for(lambda: "Redis is not answering" in worker.text() or worker.proc.poll() is not None, timeout=30,
                 what="the worker to say Redis is not answering")
        assert worker.proc.poll() is None, worker.text()  # still waiting for Redis
        redis_server = subprocess.Popen(["redis-server", "--port", str(port), "--save", "", "--appendonly", "no"],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: http_get(f"{url}/readyz", timeout=30).status_code == 200, timeout=20, what="readiness")
        assert http_get(f"{url}/readyz").json() == {"status": "ok", "database": "ok", "redis": "ok"}
        wait_for(lambda: "Listening on" in worker.text() or "*** Listening" in worker.text(), timeout=40,
                 what="the worker to start once Redis is up")
    finally:
        server.stop()
        worker.stop()
        if redis_server:
            redis_server.terminate()
            redis_server.wait(10)


def test_readiness_when_all_is_well(api):
    ready = api.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ok", "database": "ok", "redis": "ok" if LEG == "postgres" else "not used"}


@requires_rq()
def test_terminated_database_connections_are_retried_not_500(api, community):
    """PostgreSQL backends terminated under a stream of reads and writes: no request fails with a 500."""
    import asyncpg

    from conftest import run

    rider = community.riders[1]
    dbname = os.environ["DATABASE_URL"].rsplit("/", 1)[1]

    async def terminate() -> int:
        con = await asyncpg.connect(os.environ["JIFEN_TEST_DATABASE_URL"])
        try:
            return len(await con.fetch("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 "
                                       "AND application_name = 'jifen-app'", dbname))
        finally:
            await con.close()

    statuses = []
    for _ in range(8):
        with ThreadPoolExecutor(8) as pool:
            calls = [pool.submit(api.get, "/api/v1/me", rider) for _ in range(30)]
            run(terminate())
            statuses += [c.result().status_code for c in calls]
    assert 500 not in statuses
    assert statuses.count(200) >= len(statuses) * 0.9


def _free_port() -> int:
    from conftest import free_port

    return free_port()


assert TMP  # the stack's scratch directory (logs of the servers above land there)
