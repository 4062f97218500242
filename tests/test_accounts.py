"""Registration and approval, logins by password and by SMS code, sessions, CSRF, lock-out, rate limits
and API tokens: all over HTTP, as a phone or browser would."""

from __future__ import annotations

import hashlib
import hmac
import re

import httpx
import pytest

from conftest import (
    LEG,
    PASSWORD,
    SESSION_COOKIE,
    TMP,
    Api,
    User,
    http_post,
    near,
    new_phone,
    run,
    start_server,
    user_from,
    wait_for,
)
from points import clock
from points.infra.config import settings
from points.infra.db import sql
from points.people import members

pytestmark = pytest.mark.calendar  # reads the calendar: run again with the clock pinned


@pytest.fixture
def admin(api, community) -> User:
    phone = new_phone()
    run(members.create_member(community.id, "admin", "管理员", phone, PASSWORD))
    return api.user(phone)


def community_code(community) -> str:
    return run(sql("SELECT code FROM community WHERE id = {}", community.id))[0]["code"]


def report(api: Api, user: User, jpeg: bytes) -> httpx.Response:
    return api.submit(user, "order.garbage_pileup", [jpeg], **near())


def register(api: Api, place, role: str = "rider", phone: str | None = None, **fields) -> httpx.Response:
    body = {"role": role, "phone": phone or new_phone(), "name": "新骑手", "password": PASSWORD,
            "community": community_code(place)}
    if role == "rider":
        body.update(platform="meituan", platform_rider_id="MT-0001")
    return api.post("/api/v1/auth/register", json={**body, **fields})


def test_a_rider_registers_waits_for_approval_then_reports(api, community, jpeg):
    response = register(api, community)
    assert response.status_code == 201, response.text
    assert response.json()["member"]["status"] == "pending"
    rider = user_from(response, "")
    refused = report(api, rider, jpeg)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "member_pending"

    pending = api.get("/api/v1/staff/members?status=pending", community.staff).json()
    assert [m["id"] for m in pending] == [rider.id]
    assert re.fullmatch(r"1\d\d\*\*\*\*\d{4}", pending[0]["phone"])  # masked for staff lists
    approved = api.post(f"/api/v1/staff/members/{rider.id}/approve", community.staff, json={})
    assert approved.status_code == 200 and approved.json()["status"] == "active", approved.text
    assert report(api, rider, jpeg).status_code == 201


def test_a_declined_rider_sees_the_reason(api, community):
    rider = user_from(register(api, community), "")
    no_reason = api.post(f"/api/v1/staff/members/{rider.id}/decline", community.staff, json={})
    assert no_reason.status_code == 400 and no_reason.json()["error"]["field"] == "reason"
    declined = api.post(f"/api/v1/staff/members/{rider.id}/decline", community.staff,
                        json={"reason": "骑手编号与平台不符"})
    assert declined.status_code == 200
    me = api.get("/api/v1/me", rider).json()["member"]
    assert (me["status"], me["status_reason"]) == ("declined", "骑手编号与平台不符")


def test_registration_checks_every_field(api, community):
    cases = [({"role": "staff"}, "role"), ({"phone": "12345"}, "phone"), ({"password": "short"}, "password"),
             ({"community": "nowhere"}, "community"), ({"platform": "uber"}, "platform"),
             ({"platform_rider_id": ""}, "platform_rider_id"), ({"name": " "}, "name"),
             ({"surprise": 1}, "surprise")]
    for change, field in cases:
        response = register(api, community, **change)
        assert response.status_code == 400, (change, response.text)
        assert response.json()["error"]["field"] == field, (change, response.text)
    phone = new_phone()
    assert register(api, community, phone=phone).status_code == 201
    again = register(api, community, phone="+86" + phone)  # the same number, written differently
    assert again.status_code == 409 and again.json()["error"]["field"] == "phone"


def test_residents_need_approval_only_where_the_community_says(api, community, admin):
    assert register(api, community, "resident").json()["member"]["status"] == "active"
    changed = api.post(f"/api/v1/admin/communities/{community.id}", admin, json={"residents_need_approval": True})
    assert changed.status_code == 204, changed.text
    assert register(api, community, "resident", building="3栋").json()["member"]["status"] == "pending"


def test_session_cookie_flags_rotation_logout_and_role_change(api, community, admin):
    rider = community.riders[0]
    response = api.login(rider.phone)
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax") and "Path=/" in cookie
    # Session fixation: a cookie the browser came with is replaced, and ends.
    again = api.post("/api/v1/auth/login", rider, json={"phone": rider.phone, "password": PASSWORD})
    assert again.cookies[SESSION_COOKIE] != rider.session
    assert api.get("/api/v1/me", rider).status_code == 401
    current = user_from(again, rider.phone)
    assert api.get("/api/v1/me", current).status_code == 200
    # Logout ends the session on the server: the old cookie is worth nothing.
    assert api.post("/api/v1/auth/logout", current).status_code == 204
    assert api.get("/api/v1/me", current).status_code == 401
    # A role change ends every session of that member.
    rider2 = community.riders[1]
    assert api.post(f"/api/v1/admin/members/{rider2.id}/role", admin, json={"role": "staff"}).status_code == 200
    assert api.get("/api/v1/me", rider2).status_code == 401
    assert api.user(rider2.phone).role == "staff"


def test_cookie_is_secure_when_asked(api, community):
    server, url = start_server("secure", {"JIFEN_SECURE_COOKIES": "true"})
    try:
        response = http_post(f"{url}/api/v1/auth/login", json={"phone": community.riders[0].phone,
                                                                 "password": PASSWORD})
        assert "Secure" in response.headers["set-cookie"]
    finally:
        server.stop()


def test_idle_and_absolute_timeouts(api, community):
    """A session ends after 10 idle minutes, and after 16 minutes whatever it did: the server's clock is moved
    (its own clock file), not waited for."""
    clock_file = str(TMP / "timeouts-clock")
    server, url = start_server("timeouts", {"JIFEN_SESSION_IDLE_SECONDS": "600", "JIFEN_SESSION_SECONDS": "960",
                                            "JIFEN_CLOCK_FILE": clock_file})
    try:
        other = Api(url)
        rider = other.user(community.riders[0].phone)
        assert other.get("/api/v1/me", rider).status_code == 200
        for minutes in (3, 6, 9, 12, 15):  # kept busy, the idle timeout never comes …
            clock.move_to(clock_file, minutes * 60)
            assert other.get("/api/v1/me", rider).status_code == 200
        clock.move_to(clock_file, 16 * 60 + 1)  # … but the absolute lifetime does
        assert other.get("/api/v1/me", rider).status_code == 401
        idle = other.user(community.riders[0].phone)
        clock.move_to(clock_file, 16 * 60 + 1 + 9 * 60)
        assert other.get("/api/v1/me", idle).status_code == 200
        clock.move_to(clock_file, 16 * 60 + 1 + 9 * 60 + 10 * 60 + 1)
        assert other.get("/api/v1/me", idle).status_code == 401
    finally:
        server.stop()


def test_csrf_missing_forged_and_valid(api, community, jpeg):
    rider = community.riders[0]
    other = api.user(community.riders[1].phone)
    body = {"reward": 1}
    missing = User(rider.id, rider.role, rider.phone, rider.session, None, rider.community_id)
    forged = User(rider.id, rider.role, rider.phone, rider.session, other.csrf, rider.community_id)
    for user in (missing, forged):
        assert api.post("/api/v1/shop/orders", user, json=body).status_code == 403
        refused = report(api, user, jpeg)
        assert refused.status_code == 403 and "CSRF" in refused.json()["error"]["message"]
    # The form field works as well as the header (a page without JavaScript).
    parts = [("item", (None, "order.garbage_pileup")), ("grid", (None, "G1")), ("_csrf_token", (None, rider.csrf)),
             ("photos", ("p.jpg", jpeg, "image/jpeg"))]
    response = api.http.post("/api/v1/submissions", files=parts,
                             headers={"Cookie": f"{SESSION_COOKIE}={rider.session}"})
    assert response.status_code == 201, response.text
    assert api.get("/api/v1/me/submissions", rider).json()[0]["id"] == response.json()["id"]


def test_lock_out_after_ten_failures_and_the_same_answer_for_unknown_phones(api, community):
    rider = community.residents[0]
    unknown = new_phone()
    for phone in (rider.phone, unknown):
        answers = [api.login(phone, "wrong-password") for _ in range(10)]
        assert {(a.status_code, a.json()["error"]["message"]) for a in answers} == {
            (401, "wrong phone number or password")}
        locked = api.login(phone, PASSWORD if phone == rider.phone else "wrong-password")
        assert locked.status_code == 429 and locked.json()["error"]["field"] == "phone"
        assert int(locked.headers["retry-after"]) > 0
    assert api.login(community.residents[1].phone).status_code == 200  # others are not locked out


def sms_codes(log: str, phone: str) -> list[str]:
    masked = f"{phone[:3]}****{phone[-4:]}"
    return re.findall(rf"SMS to {re.escape(masked)}: .*?(\d{{6}})", log)


def test_login_code_single_use_attempts_and_expiry(api, stack, community):
    rider = community.riders[0]
    asked = api.post("/api/v1/auth/code", json={"phone": rider.phone})
    assert asked.status_code == 202 and asked.json()["sent"] is True
    silent = api.post("/api/v1/auth/code", json={"phone": new_phone()})  # nobody's number: the same answer
    assert (silent.status_code, silent.json()) == (202, asked.json())
    code = wait_for(lambda: sms_codes(stack["server"].text(), rider.phone), what="the code in the log")[-1]

    logged_in = api.post("/api/v1/auth/login/code", json={"phone": rider.phone, "code": code})
    assert logged_in.status_code == 200 and logged_in.json()["member"]["id"] == rider.id
    reused = api.post("/api/v1/auth/login/code", json={"phone": rider.phone, "code": code})
    assert reused.status_code == 401

    too_soon = api.post("/api/v1/auth/code", json={"phone": rider.phone})  # one a minute
    assert too_soon.status_code == 429 and too_soon.json()["error"]["field"] == "phone"


def test_a_stored_code_cannot_be_checked_without_the_secret_key(api, stack, community):
    """A copy of the code table alone does not give a code away: it is an HMAC under the deployment's key."""
    rider = community.residents[0]
    api.post("/api/v1/auth/code", json={"phone": rider.phone})
    code = wait_for(lambda: sms_codes(stack["server"].text(), rider.phone), what="the code")[-1]
    stored = run(sql("SELECT code_hash FROM one_time_code WHERE phone = {} ORDER BY id DESC",
                     members.normalise_phone(rider.phone)))[0]["code_hash"]
    salt, _, digest = stored.partition("$")
    assert hashlib.sha256(f"{salt}:{code}".encode()).hexdigest() != digest
    key = (settings().data_dir / "secret_key").read_text().strip().encode()
    assert hmac.new(key, f"{salt}:{code}".encode(), hashlib.sha256).hexdigest() == digest
    assert api.post("/api/v1/auth/login/code", json={"phone": rider.phone, "code": code}).status_code == 200


def test_a_code_dies_after_five_wrong_tries_and_after_ten_minutes(api, stack, community):
    rider, resident = community.riders[1], community.residents[1]
    api.post("/api/v1/auth/code", json={"phone": rider.phone})
    code = wait_for(lambda: sms_codes(stack["server"].text(), rider.phone), what="the code")[-1]
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for _ in range(5):
        assert api.post("/api/v1/auth/login/code", json={"phone": rider.phone, "code": wrong}).status_code == 401
    assert api.post("/api/v1/auth/login/code", json={"phone": rider.phone, "code": code}).status_code == 401

    api.post("/api/v1/auth/code", json={"phone": resident.phone})
    code = wait_for(lambda: sms_codes(stack["server"].text(), resident.phone), what="the code")[-1]
    run(sql("UPDATE one_time_code SET expires_at = created_at WHERE phone = {} RETURNING id",
                    members.normalise_phone(resident.phone)))  # ten minutes pass
    assert api.post("/api/v1/auth/login/code", json={"phone": resident.phone, "code": code}).status_code == 401


def test_address_limits_hold_across_app_processes(community):
    """Six logins per address per window, whichever process answers: shared through Redis in production."""
    env = {"JIFEN_RATE_LIMITS": "login_ip=6/3600"}
    servers = [start_server(f"limited{n}", env) for n in range(2 if LEG == "postgres" else 1)]
    try:
        clients = [Api(url) for _, url in servers]
        answers = [clients[n % len(clients)].login(community.riders[0].phone).status_code for n in range(8)]
        assert answers == [200] * 6 + [429] * 2
    finally:
        for server, _ in servers:
            server.stop()


def test_registration_and_submission_limits(community, jpeg):
    server, url = start_server("limits", {"JIFEN_RATE_LIMITS": "register_ip=2/3600,submit_member=2/3600"})
    try:
        other = Api(url)
        answers = [register(other, community).status_code for _ in range(3)]
        assert answers == [201, 201, 429]
        rider = other.user(community.riders[0].phone)
        sent = [report(other, rider, jpeg).status_code for n in range(3)]
        assert sent == [201, 201, 429]
    finally:
        server.stop()


def test_api_token_issued_once_scoped_and_revocable(api, community, make_community, admin, jpeg):
    issued = api.post("/api/v1/admin/tokens", admin, json={"name": "市平台", "community_id": community.id,
                                                          "role": "staff"})
    assert issued.status_code == 201, issued.text
    token = issued.json()["token"]
    assert token and all(t.get("token") is None for t in api.get("/api/v1/admin/tokens", admin).json())
    machine = User(0, "staff", "", None, None, community.id, bearer=token)
    sid = report(api, community.riders[0], jpeg).json()["id"]
    assert sid in [s["id"] for s in api.get("/api/v1/staff/submissions", machine).json()]
    other = make_community()
    other_sid = report(api, other.riders[0], jpeg).json()["id"]
    assert api.get(f"/api/v1/submissions/{other_sid}", machine).status_code == 404
    assert api.post("/api/v1/admin/tokens", machine, json={}).status_code == 403  # a staff token is not an admin
    stored = run(sql("SELECT token_hash FROM api_token WHERE id = {}", issued.json()["id"]))[0]
    assert token not in stored["token_hash"]

    assert api.post(f"/api/v1/admin/tokens/{issued.json()['id']}/revoke", admin).status_code == 200
    assert api.get("/api/v1/staff/submissions", machine).status_code == 401
    actions = [a["action"] for a in api.get("/api/v1/admin/audit?object_type=api_token", admin).json()]
    assert actions[:2] == ["token.revoke", "token.issue"]


def test_suspension_stops_reports_and_orders_but_keeps_points(api, community, jpeg):
    from conftest import grant

    rider = community.riders[0]
    grant(community.id, rider.id, 80)
    assert api.post(f"/api/v1/staff/members/{rider.id}/suspend", community.staff,
                    json={"reason": "多次虚报"}).status_code == 200
    assert report(api, rider, jpeg).json()["error"]["code"] == "member_suspended"
    assert api.post("/api/v1/shop/orders", rider, json={"reward": 1}).json()["error"]["code"] == "member_suspended"
    assert api.balance(rider)["spendable"] == 80
    assert api.post(f"/api/v1/staff/members/{rider.id}/reinstate", community.staff, json={}).status_code == 200
    assert report(api, rider, jpeg).status_code == 201


def test_the_first_admin_comes_from_the_cli(community):
    from conftest import python

    phone = new_phone()
    made = python("-m", "points", "add-member", "--community", community_code(community), "--role", "admin",
                  "--name", "管理员", "--phone", phone, env={"JIFEN_NEW_PASSWORD": "admin-password"})
    assert made.returncode == 0, made.stderr
    rows = run(sql("SELECT role FROM member WHERE phone = {}", members.normalise_phone(phone)))
    assert rows == [{"role": "admin"}]


def test_signed_out_api_calls_take_only_json(api, community):
    """A cross-site form (text/plain or urlencoded) cannot post a login: only JSON, which needs CORS."""
    rider = community.riders[0]
    body = f'{{"phone": "{rider.phone}", "password": "{PASSWORD}"}}'
    with httpx.Client(base_url=api.url) as stranger:
        plain = stranger.post("/api/v1/auth/login", content=body, headers={"Content-Type": "text/plain"})
        assert plain.status_code == 415
        form = stranger.post("/api/v1/auth/login", data={"phone": rider.phone, "password": PASSWORD})
        assert form.status_code == 415
    assert api.login(rider.phone).status_code == 200
