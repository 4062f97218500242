"""Cases handed to outside systems (points/cases/forwarding.py, points/cases/outbox.py), against a small receiver this test
starts on 127.0.0.1 (tests/receiver.py): signed webhooks and their callbacks, retries with back-off, parking and
staff's retry, a sender killed mid-delivery, the queue's job lost, and the Open311 GeoReport v2 client with its
polled status — on both legs; and the pages in Chromium."""

from __future__ import annotations

import json
import os
import re
import signal
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import redis
from receiver import Receiver
from test_outbound import INWARD_URLS

from browsing import DESKTOP, PHONE, as_user, needs_chromium
from casework import awarded_case, make_units
from client import Api
from conftest import clock_moved, run, wait_for
from harness import LEG, Process, python, start_server
from makers import Community
from points import clock
from points.cases import outbox
from points.cases import workflow as cases
from points.infra.config import settings
from points.infra.db import sql
from points.infra.wire import signature, signature_holds

pytestmark = pytest.mark.not_calendar  # it reads the clock to sign and date messages; no rule of its depends on the day


@pytest.fixture
def receiver():
    got = Receiver().start()
    yield got
    got.stop()


@pytest.fixture
def units(api, make_community, community):
    return make_units(api, make_community, community)


def link(api, units, url: str, **extra) -> dict:
    made = api.post("/api/v1/admin/forwardings", units.admin, json={"unit": units.property, "kind": "webhook",
                                                                     "url": url, **extra})
    assert made.status_code == 201, made.text
    return made.json()


def dispatch(api, community, case_id: int, unit: int) -> None:
    done = api.post(f"/api/v1/staff/cases/{case_id}/dispatch", community.staff, json={"unit": unit})
    assert done.status_code == 200, done.text


def signed(secret: str, body: dict, at: int | None = None) -> dict:
    data = json.dumps(body).encode()
    stamp = _now() if at is None else at
    return {"content": data, "headers": {"Content-Type": "application/json", "X-Jifen-Timestamp": str(stamp),
                                         "X-Jifen-Signature": signature(secret, stamp, data)}}


def events(case_id: int) -> list[str]:
    return [r["action"] for r in run(sql("SELECT action FROM case_event WHERE \"case\" = {} ORDER BY id", case_id))]


def outbox_rows(case_id: int) -> list[dict]:
    return run(sql("SELECT * FROM outbox_event WHERE \"case\" = {} ORDER BY id", case_id))


def test_a_link_inward_is_refused_when_saved(api, units):
    """A link to this machine or its networks, however spelt, is refused naming the field; nothing is saved."""
    for url in INWARD_URLS:
        made = api.post("/api/v1/admin/forwardings", units.admin, json={"unit": units.property, "kind": "webhook",
                                                                         "url": url})
        assert made.status_code == 400, (url, made.text)
        assert made.json()["error"]["field"] == "url", url
        assert made.json()["error"]["code"] == ("url_not_allowed" if url.startswith("http") else "invalid_input"), url
    assert api.get("/api/v1/admin/forwardings", units.admin).json() == []


def test_a_redirect_is_not_followed_and_what_the_system_said_stays_in_the_log(api, community, units):
    """A receiver redirecting inward (a POST turned into a GET to an internal service) is not followed: the event
    is parked with the status alone; staff never see what a failing system answered."""
    inside = Receiver(host="127.0.0.1").start()
    moved = Receiver(status=302, location=f"{inside.url}/admin", error="PLANTED-SECRET").start()
    try:
        link(api, units, moved.url)
        _, case_id = awarded_case(api, community)
        dispatch(api, community, case_id, units.property)
        parked = wait_for(lambda: [r for r in outbox_rows(case_id) if r["state"] == "parked"],
                          what="the redirected event to be parked")
        assert parked[0]["last_error"] == "HTTP 302 (a redirect, not followed)"
        moved.status, moved.location = 410, ""  # refused for good, saying something it should not
        link(api, units, f"{moved.url}/v2")
        _, second = awarded_case(api, community)
        dispatch(api, community, second, units.property)
        refused = wait_for(lambda: [r for r in outbox_rows(second) if r["state"] == "parked"],
                           what="the refused event to be parked")
        assert refused[0]["last_error"] == "HTTP 410"
        shown = api.get("/api/v1/staff/outbox?state=parked", community.staff).text + api.get(
            "/staff/cases/forwarded?state=parked", community.staff).text
        assert "HTTP 302" in shown and "HTTP 410" in shown and "PLANTED" not in shown
        assert inside.received == []
    finally:
        moved.stop()
        inside.stop()


def test_a_case_reaches_its_system_signed_and_what_comes_back_moves_it_once(api, community, units, receiver):
    made = link(api, units, receiver.url)
    secret, fid = made["secret"], made["id"]
    assert secret.startswith("whsec_") and api.get("/api/v1/admin/forwardings", units.admin).json()[0]["secret"] is None
    _, case_id = awarded_case(api, community)
    dispatch(api, community, case_id, units.property)
    sent = wait_for(lambda: receiver.posts(), what="the dispatch to reach the receiver")[0]
    body = sent.json()
    assert body["event"] == "case.dispatch" and body["case"]["id"] == case_id and sent.headers["Idempotency-Key"] \
        == body["event_id"] and body["case"]["service_code"] == "hazard.fire_exit_blocked"
    code = run(sql("SELECT code FROM community WHERE id = {}", community.id))[0]["code"]
    assert body["case"]["service_name"] and body["case"]["deadline"] and body["community"] == code
    assert signature_holds(secret, sent.headers["X-Jifen-Timestamp"], sent.headers["X-Jifen-Signature"], sent.body,
                           clock.timestamp())
    rider = community.riders[0]
    assert rider.phone not in sent.body.decode() and "rider-" not in sent.body.decode()  # never who reported it

    url = f"/api/v1/forwarding/{fid}/callback"
    accept = {"event_id": "zw-1", "case": case_id, "action": "accept"}
    first = api.post(url, **signed(secret, accept, _now()))
    assert first.status_code == 200 and first.json() == {"applied": True, "event_id": "zw-1", "case": case_id,
                                                         "state": "accepted"}
    again = api.post(url, **signed(secret, accept, _now()))
    assert again.status_code == 200 and again.json()["applied"] is False
    assert events(case_id).count("accept") == 1
    before = events(case_id)
    forged = signed("whsec_not-the-secret-at-all", {**accept, "event_id": "zw-9"}, _now())
    stale = signed(secret, {"event_id": "zw-8", "case": case_id, "action": "dispose", "note": "修好了"}, _now() - 600)
    for bad in (forged, stale):
        refused = api.post(url, **bad)
        assert refused.status_code == 401 and refused.json()["error"]["code"] == "bad_signature"
    elsewhere = signed(secret, {"event_id": "zw-7", "case": awarded_case(api, community)[1], "action": "accept"},
                       _now())
    assert api.post(url, **elsewhere).status_code == 404  # not with this unit
    wrong = api.post(url, **signed(secret, {"event_id": "zw-6", "case": case_id, "action": "close"}, _now()))
    assert wrong.status_code == 400 and wrong.json()["error"]["field"] == "action"
    assert events(case_id) == before
    disposed = api.post(url, **signed(secret, {"event_id": "zw-2", "case": case_id, "action": "dispose",
                                              "note": "已清理楼道杂物"}, _now()))
    assert disposed.status_code == 200 and disposed.json()["state"] == "disposed"

    # Staff's recheck and close go out, in order; the system's own moves are not echoed back to it.
    assert api.post(f"/api/v1/staff/cases/{case_id}/recheck", community.staff).status_code == 200
    assert api.post(f"/api/v1/staff/cases/{case_id}/conclude", community.staff, json={"fixed": True}).status_code == 200
    wait_for(lambda: len(receiver.posts()) == 3, what="recheck and close to be delivered")
    assert [r.json()["event"] for r in receiver.posts()] == ["case.dispatch", "case.recheck", "case.close"]
    wait_for(lambda: [r["state"] for r in outbox_rows(case_id)] == ["delivered"] * 3, what="all marked delivered")
    page = api.get("/staff/cases/forwarded", community.staff)
    assert page.status_code == 200 and "转发外部系统" in page.text and page.text.count("已送达") >= 3
    assert "华冠物业" in page.text  # the unit the events went to


def _now() -> int:
    return int(clock.timestamp())  # the clock every process of the run reads (perhaps pinned)


def test_a_receiver_failing_five_times_gets_each_event_once_in_order(api, community, units, receiver):
    link(api, units, receiver.url)
    receiver.fail_next = 5
    _, case_id = awarded_case(api, community)
    dispatch(api, community, case_id, units.property)
    wait_for(lambda: receiver.posts(), what="the first attempt")
    # The handler accepts while the dispatch is still failing: that event waits behind it.
    assert api.post(f"/api/v1/handler/cases/{case_id}/accept", units.handler).status_code == 200
    wait_for(lambda: len(receiver.posts()) == 7 and all(r.answered for r in receiver.posts()), timeout=90,
             what="5 failures, then both events")
    attempts = receiver.posts()
    assert [r.answered for r in attempts] == [500] * 5 + [200, 200]
    assert len({r.headers["Idempotency-Key"] for r in attempts[:6]}) == 1 and len({r.body for r in attempts[:6]}) == 1
    assert [r.json()["event"] for r in attempts[5:]] == ["case.dispatch", "case.accept"]
    gaps = [b.at - a.at for a, b in zip(attempts[:5], attempts[1:6], strict=True)]
    assert all(gap >= 0.8 * want for gap, want in zip(gaps, outbox.BACKOFF_S, strict=False)), gaps
    assert gaps[4] > gaps[0] * 4  # it backs off
    wait_for(lambda: [(r["state"], r["attempts"]) for r in outbox_rows(case_id)] == [("delivered", 6),
                                                                                     ("delivered", 1)],
             what="both marked delivered")
    assert len(receiver.applied) == 2


def test_a_refused_event_is_parked_for_staff_who_send_it_again(api, make_community, community, units, receiver):
    link(api, units, receiver.url)
    receiver.status = 410  # gone: retrying will not help
    _, case_id = awarded_case(api, community)
    dispatch(api, community, case_id, units.property)
    wait_for(lambda: outbox_rows(case_id)[0]["state"] == "parked", what="the event to be parked")
    assert len(receiver.posts()) == 1
    parked = api.get("/api/v1/staff/outbox?state=parked", community.staff).json()
    assert [(e["case_id"], e["last_error"][:8]) for e in parked] == [(case_id, "HTTP 410")]
    page = api.get("/staff/cases/forwarded?state=parked", community.staff).text
    assert "已搁置" in page and "HTTP 410" in page and "重新发送" in page
    other = make_community()
    assert api.post(f"/api/v1/staff/outbox/{parked[0]['id']}/retry", other.staff).status_code == 404
    assert api.get("/api/v1/staff/outbox", other.staff).json() == []
    assert api.get("/api/v1/staff/outbox", community.riders[0]).status_code == 403
    # Twenty retries at once (a double-click on two screens): one takes the event, the rest find it pending
    # (the receiver holds the resend meanwhile, so it cannot be parked again in between).
    receiver.hold = held = threading.Event()
    with ThreadPoolExecutor(20) as pool:
        retried = list(pool.map(lambda _: Api(api.url).post(f"/api/v1/staff/outbox/{parked[0]['id']}/retry",
                                                            community.staff), range(20)))
    assert sorted(r.status_code for r in retried) == [200] + [409] * 19
    assert run(sql("SELECT COUNT(*) AS n FROM audit_event WHERE action = 'outbox.retry' AND object_id = {}",
                   str(parked[0]["id"])))[0]["n"] == 1
    held.set()
    wait_for(lambda: outbox_rows(case_id)[0]["state"] == "parked" and len(receiver.posts()) == 2,
             what="the retried event to be refused and parked again")
    receiver.status = 200
    sent = api.post(f"/staff/cases/forwarded/{parked[0]['id']}/retry", community.staff,
                    data={"_csrf_token": community.staff.csrf}, follow_redirects=False)
    assert sent.status_code == 303 and "done=outbox_retried" in sent.headers["location"]
    wait_for(lambda: outbox_rows(case_id)[0]["state"] == "delivered", what="the retried event to be delivered")
    assert api.post(f"/api/v1/staff/outbox/{parked[0]['id']}/retry", community.staff).json()["error"]["code"] == \
        "not_parked"
    assert len(receiver.applied) == 1


def test_a_disabled_link_sends_nothing_more(api, community, units, receiver):
    """Events still owed on a link when an admin disables it are parked, saying so, and not sent: a case's words
    and place go nowhere the community no longer sends them; staff cannot send them again until it is enabled."""
    made = link(api, units, receiver.url)
    receiver.fail_next = 1_000  # the system is down: the event waits for its next try
    _, case_id = awarded_case(api, community)
    dispatch(api, community, case_id, units.property)
    wait_for(lambda: receiver.posts() and outbox_rows(case_id)[0]["attempts"] >= 1, what="a first failed try")
    disabled = api.post(f"/api/v1/admin/forwardings/{made['id']}/disable", units.admin)
    assert disabled.status_code == 200, disabled.text
    row = outbox_rows(case_id)[0]
    assert (row["state"], row["last_error"]) == ("parked", "the link was disabled")
    again = api.post(f"/api/v1/staff/outbox/{row['id']}/retry", community.staff)
    assert again.status_code == 409 and again.json()["error"]["code"] == "link_disabled"
    tries = len(receiver.posts())
    with clock_moved(2):  # past every back-off: nothing is due on a disabled link
        run(outbox.deliver_due())
    assert len(receiver.posts()) == tries and outbox_rows(case_id)[0]["state"] == "parked"


def test_a_system_that_never_answers_holds_up_nobody(api, community, units):
    """Two cases go to a unit whose system takes the request and never answers; meanwhile another unit's system
    gets its event, and a report is awarded — neither waits on the hanging one. Its second event is not sent
    while the first is in flight (one send at a time per system)."""
    hanging = Receiver(hold=threading.Event()).start()
    healthy = Receiver().start()
    held = hanging.hold
    links = []
    try:
        links.append(link(api, units, hanging.url)["id"])
        made = api.post("/api/v1/admin/forwardings", units.admin, json={"unit": units.gas, "kind": "webhook",
                                                                         "url": healthy.url})
        assert made.status_code == 201, made.text
        links.append(made.json()["id"])
        stuck = [awarded_case(api, community)[1] for _ in range(2)]
        for case_id in stuck:
            dispatch(api, community, case_id, units.property)
        wait_for(lambda: len(hanging.posts()) == 1, what="the hanging system to take the first request")
        _, case_id = awarded_case(api, community)  # awarded while the system hangs
        dispatch(api, community, case_id, units.gas)
        wait_for(lambda: outbox_rows(case_id)[0]["state"] == "delivered", what="the healthy system's event")
        assert not held.is_set() and len(hanging.posts()) == 1  # still hanging; its second event not sent
        assert [r["state"] for c in stuck for r in outbox_rows(c)] == ["pending", "pending"]
    finally:
        for made in links:  # what is still owed is parked: no retry of it runs into the tests after this one
            api.post(f"/api/v1/admin/forwardings/{made}/disable", units.admin)
        held.set()
        hanging.stop()
        healthy.stop()


def test_bad_links_and_callbacks_are_refused_naming_the_field(api, community, units, receiver):
    for body, field in (({"kind": "webhook", "url": "ftp://example.org/x"}, "url"),
                        ({"kind": "carrier-pigeon", "url": receiver.url}, "kind"),
                        ({"kind": "georeport", "url": receiver.url, "secret": "short"}, "secret"),
                        ({"kind": "webhook", "url": receiver.url, "service_code": "a\x00b"}, "service_code")):
        refused = api.post("/api/v1/admin/forwardings", units.admin, json={"unit": units.property, **body})
        assert refused.status_code == 400 and refused.json()["error"]["field"] == field, refused.text
    assert api.post("/api/v1/admin/forwardings", units.admin,
                    json={"unit": units.elsewhere, "kind": "webhook", "url": receiver.url}).status_code == 201
    assert api.post("/api/v1/admin/forwardings", community.staff,
                    json={"unit": units.property, "kind": "webhook", "url": receiver.url}).status_code == 403
    assert run(sql("SELECT COUNT(*) AS n FROM forwarding WHERE unit = {}", units.property))[0]["n"] == 0
    made = link(api, units, receiver.url)
    url = f"/api/v1/forwarding/{made['id']}/callback"
    stamp = _now()
    for data in (b"not json", b"[1]", json.dumps({"event_id": "", "case": 1, "action": "accept"}).encode(),
                 json.dumps({"event_id": "x", "case": "1", "action": "accept"}).encode()):
        bad = api.post(url, content=data, headers={"X-Jifen-Timestamp": str(stamp),
                                                   "X-Jifen-Signature": signature(made["secret"], stamp, data)})
        assert bad.status_code == 400, bad.text
    assert api.post(url, content=b"{}").status_code == 400  # no signature headers
    assert api.post("/api/v1/forwarding/999999/callback", **signed(made["secret"], {}, stamp)).status_code == 404
    assert run(sql("SELECT COUNT(*) AS n FROM inbound_event WHERE forwarding = {}", made["id"]))[0]["n"] == 0

    # Disabled: nothing more is sent, and the system's word is no longer taken.
    assert api.post(f"/api/v1/admin/forwardings/{made['id']}/disable", community.staff).status_code == 403
    off = api.post(f"/api/v1/admin/forwardings/{made['id']}/disable", units.admin)
    assert off.status_code == 200 and off.json()["disabled_at"]
    _, case_id = awarded_case(api, community)
    dispatch(api, community, case_id, units.property)
    assert outbox_rows(case_id) == [] and api.post(url, **signed(made["secret"], {
        "event_id": "late", "case": case_id, "action": "accept"}, _now())).status_code == 404


def test_an_event_whose_job_was_lost_is_sent_by_the_sweep(api, community, units, receiver):
    link(api, units, receiver.url)
    _, case_id = awarded_case(api, community)
    # Dispatched here, in the test's process: the move commits with its event, and no job is ever enqueued for
    # it (a sender still running for an earlier test's retry may find it first: then the sweep finds nothing
    # owed, and the event is still sent once).
    run(cases.dispatch(_staff_actor(community), _rules(), case_id, units.property))
    assert [r["action"] for r in outbox_rows(case_id)] == ["dispatch"]
    swept = python("-m", "points", "sweep")
    assert swept.returncode == 0, swept.stdout + swept.stderr
    assert outbox_rows(case_id)[0]["state"] == "delivered" and len(receiver.posts()) == 1
    # A delivered event's copy of the report (its words, its precise place) is kept no longer than the report's.
    run(sql("UPDATE outbox_event SET delivered_at = {} WHERE \"case\" = {}", clock.now() - timedelta(days=31), case_id))
    swept = python("-m", "points", "sweep", env={"JIFEN_PRECISE_PLACE_DAYS": "30"})
    assert "'forwarded_bodies_emptied': 1" in swept.stdout, swept.stdout + swept.stderr
    assert outbox_rows(case_id)[0]["body"] == "{}"


def _staff_actor(community):
    from points.scope import Actor

    return Actor(community.staff.id, "staff", community.id, "", "active")


def _rules():
    from points.areas import schemes

    return schemes.current()


def test_a_sender_killed_mid_delivery_and_redis_lost_leave_the_event_to_the_next(api, community, units, receiver):
    link(api, units, receiver.url)
    env = {"JIFEN_SWEEP_SECONDS": "1"}
    if LEG == "postgres":  # an app and a worker of their own, on a Redis database of their own
        redis_url = os.environ["REDIS_URL"].rsplit("/", 1)[0] + "/11"
        redis.Redis.from_url(redis_url).flushdb()
        env["REDIS_URL"] = redis_url
    server, url = start_server("killed-sender-app", env)
    worker = Process("killed-sender-worker", ["worker.py"], env) if LEG == "postgres" else None
    sender = worker or server
    own = Api(url)
    staff = own.user(community.staff.phone)
    _, case_id = awarded_case(api, community)
    gate = receiver.hold = threading.Event()
    try:
        dispatch(own, Community(community.id, staff, community.riders, community.residents), case_id, units.property)
        wait_for(lambda: receiver.posts(), what="the delivery to start")
        sender.proc.send_signal(signal.SIGKILL)
        sender.proc.wait()
    finally:
        gate.set()
        for process in (server, worker):
            if process is not None and process.proc.poll() is None:
                process.stop()
    assert outbox_rows(case_id)[0]["state"] == "pending" and outbox_rows(case_id)[0]["lease_until"] is not None
    if LEG == "postgres":  # and Redis lost everything it held (the queue, any scheduled retry)
        redis.Redis.from_url(env["REDIS_URL"]).flushdb()
    # The next sender starts after the killed one's lease ended (a minute on: the clock shifted forward).
    later = {**env, "JIFEN_CLOCK_OFFSET_SECONDS": str(float(os.environ.get("JIFEN_CLOCK_OFFSET_SECONDS", "0"))
                                                       + settings().outbound_seconds + outbox.LEASE_MARGIN_S + 30)}
    if LEG == "postgres":
        restarted = Process("restarted-sender-worker", ["worker.py"], later)
    else:
        restarted, _ = start_server("restarted-sender-app", later)
    try:
        wait_for(lambda: outbox_rows(case_id)[0]["state"] == "delivered", timeout=30, what="the event to be sent again")
    finally:
        restarted.stop()
    posts = receiver.posts()
    assert len(posts) == 2 and len({p.headers["Idempotency-Key"] for p in posts}) == 1
    assert len(receiver.applied) == 1  # delivered twice on the wire, applied once
    assert "Traceback" not in restarted.text()


def test_an_open311_server_gets_each_case_and_its_status_comes_back_once(api, community, units, receiver):
    """We are the GeoReport v2 client: every new case of the community goes to their server (auto dispatch);
    the sweep reads their status: open → accepted, closed → disposed with their notes, once."""
    made = api.post("/api/v1/admin/forwardings", units.admin, json={
        "unit": units.property, "kind": "georeport", "url": receiver.url + "/open311/v2", "secret": "their-key-0123456789",
        "service_code": "ZW-001", "jurisdiction": "dg.gov.cn", "auto_dispatch": True})
    assert made.status_code == 201 and made.json()["secret"] == "their-key-0123456789", made.text
    _, case_id = awarded_case(api, community)
    wait_for(lambda: outbox_rows(case_id) and outbox_rows(case_id)[0]["state"] == "delivered",
             what="the case to be posted to their server")
    assert events(case_id) == ["open", "dispatch"]
    post = receiver.posts()[0].form()
    assert receiver.posts()[0].path == "/open311/v2/requests.json"
    assert post["api_key"] == "their-key-0123456789" and post["service_code"] == "ZW-001"
    assert post["jurisdiction_id"] == "dg.gov.cn" and float(post["lat"]) and "楼道堵了" in post["description"]
    assert outbox_rows(case_id)[0]["remote_id"] == "R-1"

    def sweep() -> None:
        done = python("-m", "points", "sweep")
        assert done.returncode == 0 and "'no_shows'" in done.stdout, done.stdout + done.stderr  # every step ran

    sweep()
    assert events(case_id) == ["open", "dispatch", "accept"]
    # Their notes, with what no note may hold (a control character, a non-character): cleaned, not trusted.
    receiver.requests["R-1"] = {"status": "closed", "status_notes": "已清理\x01完毕\ufffe"}
    sweep()
    sweep()
    assert events(case_id) == ["open", "dispatch", "accept", "dispose"]
    case = api.get(f"/api/v1/cases/{case_id}", community.staff).json()
    assert case["state"] == "disposed" and case["note"] == "已清理完毕"
    assert api.post(f"/api/v1/staff/cases/{case_id}/recheck", community.staff).status_code == 200
    assert len(receiver.posts()) == 1  # an Open311 server is told of new requests only
    gets = [r for r in receiver.received if r.method == "GET"]
    assert gets and "service_request_id=R-1" in gets[0].path and "jurisdiction_id=dg.gov.cn" in gets[0].path


def test_an_open311_server_that_answers_with_a_token_is_followed_to_its_request(api, community, units, receiver):
    receiver.tokens = True
    made = api.post("/api/v1/admin/forwardings", units.admin, json={
        "unit": units.property, "kind": "georeport", "url": receiver.url, "secret": "their-key-0123456789"})
    assert made.status_code == 201, made.text
    _, case_id = awarded_case(api, community)
    dispatch(api, community, case_id, units.property)
    wait_for(lambda: outbox_rows(case_id)[0]["state"] == "delivered", what="the request to be posted")
    assert outbox_rows(case_id)[0]["remote_id"] == "token:T-1"
    swept = python("-m", "points", "sweep")
    assert swept.returncode == 0, swept.stdout + swept.stderr
    assert outbox_rows(case_id)[0]["remote_id"] == "R-1" and events(case_id)[-1] == "accept"
    assert [r.path for r in receiver.received if r.method == "GET"][0] == "/tokens/T-1.json"


def test_the_back_off_runs_from_a_second_to_an_hour_then_parks():
    assert outbox.BACKOFF_S[0] == 1 and outbox.BACKOFF_S[-1] == 3600
    assert all(b > a for a, b in zip(outbox.BACKOFF_S, outbox.BACKOFF_S[1:], strict=False))
    assert sum(outbox.BACKOFF_S[:-1]) > 3600  # a receiver down for an hour is still reached before parking


def test_admins_link_a_unit_on_the_units_page(api, community, units, receiver):
    form = {"_csrf_token": units.admin.csrf, "unit": str(units.gas), "kind": "webhook"}
    refused = api.post("/admin/forwardings", units.admin, data={**form, "url": "ftp://nowhere"})
    assert refused.status_code == 400 and 'id="err-url"' in refused.text
    assert api.post("/admin/forwardings", community.staff, data={**form, "url": receiver.url}).status_code == 403
    linked = api.post("/admin/forwardings", units.admin, data={**form, "url": receiver.url, "auto_dispatch": "on"})
    assert linked.status_code == 200 and "燃气公司 已关联外部系统" in linked.text and "签名密钥只显示这一次" in linked.text
    assert linked.text.count('id="new-link"') == 1 and "<form" not in linked.text.split("<title>")[1].split("</title>")[0]
    secret = linked.text.split('<b class="code">')[1].split("</b>")[0]
    assert secret.startswith("whsec_") and secret not in api.get("/admin/units", units.admin).text
    row = api.get("/admin/units", units.admin).text.split(f'id="unit-{units.gas}"')[1].split("</tr>")[0]
    assert "签名 Webhook" in row and receiver.url in row and "全部新案件" in row and "停止转发" in row
    fid = run(sql("SELECT id FROM forwarding WHERE unit = {}", units.gas))[0]["id"]
    stopped = api.post(f"/admin/forwardings/{fid}/disable", units.admin, data={"_csrf_token": units.admin.csrf},
                       follow_redirects=False)
    assert stopped.status_code == 303 and "done=forwarding_disabled" in stopped.headers["location"]
    row = api.get("/admin/units", units.admin).text.split(f'id="unit-{units.gas}"')[1].split("</tr>")[0]
    assert "停止转发" not in row


@needs_chromium
def test_staff_see_a_parked_event_and_send_it_again_in_the_browser(stack, api, browser, community, units, receiver):
    url = stack["url"]
    admin = as_user(browser, url, units.admin, viewport=DESKTOP)
    admin.goto(f"{url}/admin/units")
    admin.select_option("#lunit", str(units.property))
    admin.fill("#lurl", receiver.url)
    admin.click("#new-link button.primary")
    assert "华冠物业 已关联外部系统" in admin.inner_text("main") and "whsec_" in admin.inner_text(".flash")
    receiver.status = 401  # say the system's people have not set the secret yet: refused for good
    _, case_id = awarded_case(api, community)
    dispatch(api, community, case_id, units.property)
    wait_for(lambda: outbox_rows(case_id)[0]["state"] == "parked", what="the event to be parked")

    staff = as_user(browser, url, community.staff, viewport=PHONE)
    staff.goto(f"{url}/staff/cases/")
    staff.click("text=转发外部系统")
    row = staff.inner_text(f"#event-{outbox_rows(case_id)[0]['id']}")
    assert "交办" in row and "已搁置" in row and "HTTP 401" in row and "华冠物业" in row
    receiver.status = 200
    staff.click(f"#event-{outbox_rows(case_id)[0]['id']} button")
    staff.wait_for_url(re.compile(r"done=outbox_retried"))
    assert "已重新发送" in staff.inner_text("main")
    wait_for(lambda: outbox_rows(case_id)[0]["state"] == "delivered", what="the event to be delivered")
    staff.reload()
    assert "已送达" in staff.inner_text(f"#event-{outbox_rows(case_id)[0]['id']}")
