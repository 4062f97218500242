"""The access matrix (T13): every route of the app (API and pages, reads and changes) × every role × an
object in community A or B, against the policy table below. A refused cell (401, 403, 404) must leave no
trace: no audit row, no transfer, no change to the object. The routes come from the app itself: a new route
missing from the tables fails `test_every_route_is_in_the_matrix`."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field as dc_field
from datetime import datetime, timedelta
from typing import Any

import pytest
from taskwork import at, code, publish

from conftest import PASSWORD, User, grant, near, new_community, new_phone, photo, run
from points.areas import schemes
from points.infra.config import ROOT
from points.infra.db import sql
from points.people import members, tokens
from points.scope import Actor
from points.shop import rewards
from rules.catalogue import load_catalogue

pytestmark = pytest.mark.not_calendar  # who may do what does not depend on the day

ROLES = ("anonymous", "pending", "rider", "resident", "staff_a", "staff_b", "admin", "handler")
_spot = itertools.count(1)


def policy(kind: str, role: str, where: str, ok: int) -> int:
    """What `role` gets from an endpoint of `kind` acting on an object in community `where` (A or B).
    The pending rider, rider, resident and staff_a belong to A; staff_b to B; the admin to A, acting on all;
    the handler works for the unit that serves A (B's cases go to another unit). A's cases are reported by
    A's rider."""
    if kind == "public":  # anyone, signed in or not
        return ok
    if role == "anonymous":
        return 401
    if kind == "case":  # a case: staff of its community, a handler of its unit, its reporter
        if role in ("rider", "handler"):
            return ok if where == "A" else 404
        if role in ("pending", "resident"):
            return 404
        if role == "admin" or (role == "staff_a") == (where == "A"):
            return ok
        return 404
    if kind == "case_photo":  # the report's photos on a case: staff and the unit (the reporter has their own)
        return 404 if role == "rider" else policy("case", role, where, ok)
    if kind == "case_handler":  # what a unit's handler does to a case: 404 for another unit's
        return (ok if where == "A" else 404) if role == "handler" else 403
    if kind == "handler_list":
        return ok if role == "handler" else 403
    if kind == "case_reporter":  # the reporter rates their own problem's case
        if role in ("staff_a", "staff_b", "admin", "handler"):
            return 403
        return ok if role == "rider" and where == "A" else 404
    if kind == "home":  # everyone's start page; a unit's handler starts at their cases
        return 303 if role == "handler" else ok
    if kind in ("signup", "presence"):  # a member's own place on a task: whoever else sees the task holds none
        if kind == "presence" and role == "pending":
            return 403  # being there is acting: a pending rider may not
        if role in ("rider", "resident"):
            return ok if where == "A" else 404
        return 409 if policy("community", role, where, ok) == ok else 404
    if kind == "community":  # an object of a community, for its members and staff (anyone else: 404)
        if role in ("staff_b",):
            return 404 if where == "A" else ok
        if role == "admin":
            return ok
        return ok if where == "A" else 404
    if role == "handler":  # a unit's worker: their cases only, and what every member may see
        return {"member": ok, "own": 404}.get(kind, 403)
    if kind == "staff":  # staff act only in their own community; another's object does not exist for them
        if role in ("pending", "rider", "resident"):
            return 403
        if role == "admin" or (role == "staff_a") == (where == "A"):
            return ok
        return 404
    if kind == "reporter":  # riders and residents act for themselves, in their own community
        if role in ("staff_a", "staff_b", "admin") or role == "pending":
            return 403
        return ok if where == "A" else 404
    if kind == "admin":
        return ok if role == "admin" else 403
    if kind == "member":  # anyone signed in, about themselves or their community (a pending rider may look)
        return ok
    if kind == "staff_list":  # staff's own community's lists and tools
        return 403 if role in ("pending", "rider", "resident") else ok
    if kind == "reporter_page":  # riders' and residents' pages (a pending rider sees why they cannot act)
        return 403 if role in ("staff_a", "staff_b", "admin") else ok
    if kind == "reporter_look":  # a reporters' page about an object of their own community (a pending rider may look)
        return 403 if role in ("staff_a", "staff_b", "admin") else ok if where == "A" else 404
    if kind == "own":  # a member's own object, or staff of its community: anyone else finds nothing
        if role in ("pending", "resident"):
            return 404
        if role == "rider":
            return ok if where == "A" else 404
        if role == "admin" or (role == "staff_a") == (where == "A"):
            return ok
        return 404
    raise ValueError(kind)


@dataclass
class World:
    api: Any
    a: Any
    b: Any
    users: dict[str, User | None]
    jpeg: bytes
    rewards: dict[str, int]

    handlers: dict[str, User] = dc_field(default_factory=dict)  # of the unit serving A, and of B's unit
    units: dict[str, int] = dc_field(default_factory=dict)
    tasks: dict[str, list[int]] = dc_field(default_factory=dict)  # the matrix's tasks not yet called off

    def community(self, where: str):
        return self.a if where == "A" else self.b

    def case(self, where: str, state: str = "dispatched") -> int:
        """A case of a report by the community's first rider, taken to `state` by staff, its unit and its reporter."""
        c, sid = self.community(where), self.awarded(where)
        case_id = run(sql("SELECT id FROM case_file WHERE submission = {}", sid))[0]["id"]
        staff, handler, base = c.staff, self.handlers[where], f"/api/v1/staff/cases/{case_id}"
        steps = {"dispatched": [(staff, f"{base}/dispatch", {"unit": self.units[where]})],
                 "accepted": [(handler, f"/api/v1/handler/cases/{case_id}/accept", None)],
                 "disposed": [(handler, f"/api/v1/handler/cases/{case_id}/dispose", "photo")],
                 "rechecking": [(staff, f"{base}/recheck", None)],
                 "closed": [(staff, f"{base}/conclude", {"fixed": True, "note": "已修好"})]}
        order = ["open", "dispatched", "accepted", "disposed", "rechecking", "closed"]
        for step in order[1:order.index(state) + 1]:
            for user, path, body in steps[step]:
                if body == "photo":
                    done = self.api.post(path, user, data={"note": "已修好"},
                                         files=[("photos", ("fix.jpg", photo(), "image/jpeg"))])
                else:
                    done = self.api.post(path, user, json=body)
                assert done.status_code == 200, (step, done.text)
        return case_id

    def accepted_with_room(self, where: str) -> tuple[int, str]:
        """An accepted case, and a time an hour past its deadline (an extension within its hard limit)."""
        case_id = self.case(where, "accepted")
        deadline = datetime.fromisoformat(self.api.get(f"/api/v1/cases/{case_id}", self.handlers[where])
                                          .json()["deadline"])
        return case_id, (deadline + timedelta(hours=1)).isoformat()

    def extension_asked(self, where: str) -> int:
        case_id, until = self.accepted_with_room(where)
        asked = self.api.post(f"/api/v1/handler/cases/{case_id}/extension", self.handlers[where],
                              json={"until": until, "note": "需要配件"})
        assert asked.status_code == 200, asked.text
        return case_id

    def rated_unsatisfied(self, where: str) -> int:
        case_id = self.case(where, "closed")
        rated = self.api.post(f"/api/v1/cases/{case_id}/rate", self.community(where).riders[0], json={"stars": 1})
        assert rated.status_code == 200, rated.text
        return case_id

    def task(self, where: str) -> int:
        """An activity running now in the community (for riders and residents, its place at G1); the earlier
        ones are called off first, so that members may sign up for it (no two tasks at once)."""
        staff = self.community(where).staff
        for earlier in self.tasks.pop(where, []):
            called_off = self.api.post(f"/api/v1/staff/tasks/{earlier}/cancel", staff, json={"note": "矩阵:下一场"})
            assert called_off.status_code in (200, 409), called_off.text  # 409: a cell called it off already
        task_id = publish(self.api, staff, **near())["id"]
        self.tasks.setdefault(where, []).append(task_id)
        return task_id

    def signed_up(self, where: str) -> int:
        """A running activity both of the community's first rider and first resident signed up for."""
        task_id, c = self.task(where), self.community(where)
        for member in (c.riders[0], c.residents[0]):
            assert self.api.post(f"/api/v1/tasks/{task_id}/signup", member).status_code == 200
        return task_id

    def site_code(self, where: str, task_id: int) -> str:
        return code(self.api, self.community(where).staff, task_id)

    def checked_in(self, where: str) -> tuple[int, str]:
        task_id, c = self.signed_up(where), self.community(where)
        site = self.site_code(where, task_id)
        for member in (c.riders[0], c.residents[0]):
            done = self.api.post(f"/api/v1/tasks/{task_id}/checkin", member, json={"code": site})
            assert done.status_code == 200, done.text
        return task_id, site

    def case_photo(self, where: str) -> tuple[int, int]:
        case_id = self.case(where, "disposed")
        return case_id, run(sql("SELECT id FROM case_photo WHERE \"case\" = {}", case_id))[0]["id"]

    def case_report_photo(self, where: str) -> tuple[int, int]:
        case_id = self.case(where)
        return case_id, run(sql("SELECT p.id FROM photo p JOIN case_file c ON c.submission = p.submission "
                                "WHERE c.id = {}", case_id))[0]["id"]

    def submission(self, where: str) -> int:
        c = self.community(where)
        response = self.api.submit(c.riders[0], "order.streetlight_broken", [self.jpeg],
                                   **near(metres_north=200 * next(_spot)))
        assert response.status_code == 201, response.text
        return response.json()["id"]

    def awarded(self, where: str) -> int:
        c, sid = self.community(where), self.submission(where)
        assert self.api.verify(c.staff, sid).status_code == 200
        self.api.wait_awarded(c.riders[0], sid)
        return sid

    def member(self, where: str, status: str = "active") -> int:
        c = self.community(where)
        return run(members.create_member(c.id, "rider", "矩阵骑手", new_phone(), PASSWORD, "jd", status, "JD-1"))

    def token(self, where: str) -> int:
        admin = Actor(self.users["admin"].id, "admin", self.a.id, "", "active")
        return run(tokens.issue(admin, "平台", self.community(where).id, "staff"))["id"]

    def order(self, where: str) -> dict[str, Any]:
        c = self.community(where)
        owner = c.residents[1]
        grant(c.id, owner.id, 200)
        response = self.api.post("/api/v1/shop/orders", owner, json={"reward": self.rewards[where]})
        assert response.status_code == 201, response.text
        return response.json()


FORM = {"form": "1"}  # marks a page's form post: sent urlencoded, as a browser does


def _key() -> dict[str, str]:
    return {"Idempotency-Key": f"matrix-{uuid.uuid4().hex}"}


# name: (kind, success status, make the object in A or B, the request for it)
ENDPOINTS: dict[str, tuple[str, int, Callable[[World, str], Any], Callable[[Any], tuple]]] = {
    "verify": ("staff", 200, World.submission,
               lambda sid: ("POST", f"/api/v1/staff/submissions/{sid}/verify", {}, {})),
    "reject": ("staff", 200, World.submission,
               lambda sid: ("POST", f"/api/v1/staff/submissions/{sid}/reject", {"reason": "unclear"}, {})),
    "reverse": ("staff", 200, World.awarded,
                lambda sid: ("POST", f"/api/v1/staff/submissions/{sid}/reverse", {"reason": "fraud"}, {})),
    "approve": ("staff", 200, lambda w, where: w.member(where, "pending"),
                lambda mid: ("POST", f"/api/v1/staff/members/{mid}/approve", {}, {})),
    "decline": ("staff", 200, lambda w, where: w.member(where, "pending"),
                lambda mid: ("POST", f"/api/v1/staff/members/{mid}/decline", {"reason": "资料不符"}, {})),
    "suspend": ("staff", 200, World.member,
                lambda mid: ("POST", f"/api/v1/staff/members/{mid}/suspend", {"reason": "虚报"}, {})),
    "reinstate": ("staff", 200, lambda w, where: w.member(where, "suspended"),
                  lambda mid: ("POST", f"/api/v1/staff/members/{mid}/reinstate", {}, {})),
    "phone": ("staff", 200, World.member, lambda mid: ("POST", f"/api/v1/staff/members/{mid}/phone", None, {})),
    "deduct": ("staff", 200, World.member,
               lambda mid: ("POST", f"/api/v1/staff/members/{mid}/deductions",
                            {"item": "penalty.no_show", "note": "未到岗"}, _key())),
    "fulfil": ("staff", 200, World.order,
               lambda order: ("POST", "/api/v1/staff/shop/fulfil", {"code": order["pickup_code"]}, {})),
    "staff_cancel": ("staff", 200, World.order,
                     lambda order: ("POST", f"/api/v1/staff/shop/orders/{order['id']}/cancel", None, {})),
    "restock": ("staff", 200, lambda w, where: w.rewards[where],
                lambda rid: ("POST", f"/api/v1/staff/shop/rewards/{rid}/restock", {"quantity": 1, "reason": "到货"},
                             {})),
    "order": ("reporter", 201, lambda w, where: w.rewards[where],
              lambda rid: ("POST", "/api/v1/shop/orders", {"reward": rid}, _key())),
    "set_role": ("admin", 200, World.member,
                 lambda mid: ("POST", f"/api/v1/admin/members/{mid}/role", {"role": "resident"}, {})),
    "community": ("admin", 204, lambda w, where: w.community(where).id,
                  lambda cid: ("POST", f"/api/v1/admin/communities/{cid}", {"residents_need_approval": False}, {})),
    "revoke": ("admin", 200, lambda w, where: w.token(where),
               lambda tid: ("POST", f"/api/v1/admin/tokens/{tid}/revoke", None, {})),
    # The pages' forms: the same domain calls behind page guards. Success redirects (303); anonymous
    # visitors are sent to the login page (303); refusals are error pages with the API's status.
    "page_verify": ("staff", 303, World.submission,
                    lambda sid: ("POST", f"/staff/submissions/{sid}/verify", FORM, {})),
    "page_reject": ("staff", 303, World.submission,
                    lambda sid: ("POST", f"/staff/submissions/{sid}/reject", {**FORM, "reason": "unclear"}, {})),
    "page_reverse": ("staff", 303, World.awarded,
                     lambda sid: ("POST", f"/staff/submissions/{sid}/reverse", {**FORM, "reason": "fraud"}, {})),
    "page_approve": ("staff", 303, lambda w, where: w.member(where, "pending"),
                     lambda mid: ("POST", f"/staff/members/{mid}/approve", FORM, {})),
    "page_suspend": ("staff", 303, World.member,
                     lambda mid: ("POST", f"/staff/members/{mid}/suspend", {**FORM, "reason": "虚报"}, {})),
    "page_fulfil": ("staff", 303, World.order,
                    lambda order: ("POST", "/staff/counter", {**FORM, "code": order["pickup_code"]}, {})),
    "page_restock": ("staff", 303, lambda w, where: w.rewards[where],
                     lambda rid: ("POST", f"/staff/shop/{rid}/restock", {**FORM, "quantity": "2", "reason": "到货"},
                                  {})),
    "page_reward_save": ("staff", 303, lambda w, where: w.rewards[where],
                         lambda rid: ("POST", "/staff/shop/save", {**FORM, "id": str(rid), "code": "r.meal_voucher",
                                                                   "name_zh": "餐券", "name_en": "Meal voucher",
                                                                   "kind": "goods", "price": "50",
                                                                   "roles": ["rider", "resident"], "active": "on"},
                                      {})),
    "page_order": ("reporter", 303, lambda w, where: w.rewards[where],
                   lambda rid: ("POST", f"/shop/{rid}", FORM, {})),
    "page_set_role": ("admin", 303, World.member,
                      lambda mid: ("POST", f"/admin/members/{mid}/role", {**FORM, "role": "resident"}, {})),
    "page_revoke": ("admin", 303, lambda w, where: w.token(where),
                    lambda tid: ("POST", f"/admin/tokens/{tid}/revoke", FORM, {})),
    # cases (交办 → 处置 → 复查 → 办结), each made in the state the move starts from
    "case_dispatch": ("staff", 200, lambda w, where: (w.case(where, "open"), w.units[where]),
                      lambda c: ("POST", f"/api/v1/staff/cases/{c[0]}/dispatch", {"unit": c[1]}, {})),
    "case_resolve": ("staff", 200, lambda w, where: w.case(where, "open"),
                     lambda cid: ("POST", f"/api/v1/staff/cases/{cid}/resolve", {"multipart": "就地解决"}, {})),
    "case_recheck": ("staff", 200, lambda w, where: w.case(where, "disposed"),
                     lambda cid: ("POST", f"/api/v1/staff/cases/{cid}/recheck", None, {})),
    "case_conclude": ("staff", 200, lambda w, where: w.case(where, "rechecking"),
                      lambda cid: ("POST", f"/api/v1/staff/cases/{cid}/conclude", {"fixed": True}, {})),
    "case_extension_decide": ("staff", 200, World.extension_asked,
                              lambda cid: ("POST", f"/api/v1/staff/cases/{cid}/extension", {"grant": True}, {})),
    "case_reopen": ("staff", 200, World.rated_unsatisfied,
                    lambda cid: ("POST", f"/api/v1/staff/cases/{cid}/reopen", {"note": "群众不满意,重新处置"}, {})),
    "case_accept": ("case_handler", 200, World.case,
                    lambda cid: ("POST", f"/api/v1/handler/cases/{cid}/accept", None, {})),
    "case_return": ("case_handler", 200, World.case,
                    lambda cid: ("POST", f"/api/v1/handler/cases/{cid}/return", {"note": "不归我们管"}, {})),
    "case_dispose": ("case_handler", 200, lambda w, where: w.case(where, "accepted"),
                     lambda cid: ("POST", f"/api/v1/handler/cases/{cid}/dispose", {"multipart": "已修好"}, {})),
    "case_extension_ask": ("case_handler", 200, World.accepted_with_room,
                           lambda c: ("POST", f"/api/v1/handler/cases/{c[0]}/extension",
                                      {"until": c[1], "note": "需要配件"}, {})),
    "case_rate": ("case_reporter", 200, lambda w, where: w.case(where, "closed"),
                  lambda cid: ("POST", f"/api/v1/cases/{cid}/rate", {"stars": 5}, {})),
    # tasks (志愿活动): members of the task's community sign up and are there; its staff run it
    "task_signup": ("reporter", 200, World.task, lambda tid: ("POST", f"/api/v1/tasks/{tid}/signup", None, {})),
    "task_cancel_signup": ("signup", 200, World.signed_up,
                           lambda tid: ("POST", f"/api/v1/tasks/{tid}/cancel", None, {})),
    "task_checkin": ("presence", 200, lambda w, where: (tid := w.signed_up(where), w.site_code(where, tid)),
                     lambda t: ("POST", f"/api/v1/tasks/{t[0]}/checkin", {"code": t[1]}, {})),
    "task_checkout": ("presence", 200, World.checked_in,
                      lambda t: ("POST", f"/api/v1/tasks/{t[0]}/checkout", {"code": t[1]}, {})),
    "task_publish": ("staff_list", 201, lambda w, where: None,
                     lambda _: ("POST", "/api/v1/staff/tasks", task_body(), {})),
    "task_call_off": ("staff", 200, World.task,
                      lambda tid: ("POST", f"/api/v1/staff/tasks/{tid}/cancel", {"note": "下雨,改期"}, {})),
    "task_attend": ("staff", 200, lambda w, where: (w.signed_up(where), w.community(where).riders[0].id),
                    lambda t: ("POST", f"/api/v1/staff/tasks/{t[0]}/attend", {"member": t[1]}, {})),
    "task_confirm": ("staff", 200, lambda w, where: w.checked_in(where)[0],
                     lambda tid: ("POST", f"/api/v1/staff/tasks/{tid}/confirm", {}, {})),
    "unit_new": ("admin", 201, lambda w, where: w.community(where).id,
                 lambda cid: ("POST", "/api/v1/admin/units", {"kind": "gas", "name": f"燃气公司{uuid.uuid4().hex[:6]}",
                                                               "communities": [cid]}, {})),
    "token": ("admin", 201, lambda w, where: w.community(where).id,
              lambda cid: ("POST", "/api/v1/admin/tokens", {"name": "平台", "community_id": cid, "role": "staff"},
                           {})),
}


def task_body() -> dict[str, Any]:
    """An activity to publish, running now (taskwork.publish's, for a bare request)."""
    return {"kind": "activity", "title": "周末清理楼道杂物", "item": "service.volunteer_hour", "starts_at": at(-5),
            "ends_at": at(180), "signup_closes_at": at(60), "slots": 20, "place": "华冠社区广场", **near(),
            "radius_m": 100}


def _photo(w: World, where: str) -> tuple[int, int]:
    sid = w.submission(where)
    return sid, run(sql("SELECT id FROM photo WHERE submission = {}", sid))[0]["id"]


def _get(path: str) -> Callable[[Any], tuple]:
    return lambda obj: ("GET", path.format(obj=obj), None, {})


def _nothing(w: World, where: str) -> None:
    return None


# The reads: the same shape, every GET route of the app.
READS: dict[str, tuple[str, int, Callable[[World, str], Any], Callable[[Any], tuple]]] = {
    **{f"read {path}": ("public", 200, _nothing, _get(path)) for path in (
        "/api/v1/auth/session", "/healthz", "/readyz", "/api/v1/rules", "/login", "/register", "/favicon.ico")},
    "read rules version": ("public", 200, lambda w, where: schemes.current().version,
                           _get("/api/v1/rules/versions/{obj}")),
    "read scheme page": ("public", 200, lambda w, where: run(sql("SELECT code FROM community WHERE id = {}",
                                                               w.community(where).id))[0]["code"], _get("/p/{obj}")),
    "read language": ("public", 303, _nothing, _get("/lang/en")),
    **{f"read {path}": ("member", 200, _nothing, _get(path)) for path in (
        "/api/v1/me", "/api/v1/me/expiring", "/api/v1/me/export", "/api/v1/me/history", "/api/v1/me/submissions",
        "/api/v1/honours/board", "/api/v1/shop/orders", "/api/v1/shop/rewards", "/account", "/submissions",
        "/orders", "/points", "/shop")},
    "read home page": ("home", 200, _nothing, _get("/")),
    "read report page": ("reporter_page", 200, _nothing, _get("/report")),
    "read reward to confirm": ("reporter_look", 200, lambda w, where: w.rewards[where], _get("/shop/{obj}")),
    "read submission": ("own", 200, World.submission, _get("/api/v1/submissions/{obj}")),
    "read photo": ("own", 200, _photo, _get("/api/v1/submissions/{obj[0]}/photos/{obj[1]}")),
    **{f"read {path}": ("staff_list", 200, _nothing, _get(path)) for path in (
        "/api/v1/staff/submissions", "/api/v1/staff/members", "/staff/shop", "/staff/counter", "/staff/dashboard",
        "/staff/export/submissions", "/staff/members", "/staff/shop/new", "/staff/queue")},
    "read staff member": ("staff", 200, World.member, _get("/api/v1/staff/members/{obj}")),
    "read order by code": ("staff", 200, World.order, _get("/api/v1/staff/shop/orders/by-code/{obj[pickup_code]}")),
    "read stock history": ("staff", 200, lambda w, where: w.rewards[where],
                           _get("/api/v1/staff/shop/rewards/{obj}/stock")),
    "read reward page": ("staff", 200, lambda w, where: w.rewards[where], _get("/staff/shop/{obj}")),
    "read submission page": ("staff", 200, World.submission, _get("/staff/submissions/{obj}")),
    "read task": ("community", 200, World.task, _get("/api/v1/tasks/{obj}")),
    "read tasks": ("member", 200, _nothing, _get("/api/v1/tasks")),
    "read my tasks": ("member", 200, _nothing, _get("/api/v1/tasks/mine")),
    "read staff tasks": ("staff_list", 200, _nothing, _get("/api/v1/staff/tasks")),
    "read task roster": ("staff", 200, World.task, _get("/api/v1/staff/tasks/{obj}/roster")),
    "read task code": ("staff", 200, World.task, _get("/api/v1/staff/tasks/{obj}/code")),
    "read case": ("case", 200, World.case, _get("/api/v1/cases/{obj}")),
    "read case photo": ("case", 200, World.case_photo, _get("/api/v1/cases/{obj[0]}/photos/{obj[1]}")),
    "read case report photo": ("case_photo", 200, World.case_report_photo,
                               _get("/api/v1/cases/{obj[0]}/report-photos/{obj[1]}")),
    "read staff cases": ("staff_list", 200, _nothing, _get("/api/v1/staff/cases")),
    "read staff units": ("staff_list", 200, _nothing, _get("/api/v1/staff/units")),
    "read handler cases": ("handler_list", 200, _nothing, _get("/api/v1/handler/cases")),
    "read admin units": ("admin", 200, _nothing, _get("/api/v1/admin/units")),
    **{f"read {path}": ("admin", 200, _nothing, _get(path)) for path in (
        "/api/v1/admin/audit", "/api/v1/admin/tokens", "/admin", "/admin/audit", "/admin/tokens", "/admin/members",
        "/admin/rules")},
}


def traces() -> tuple[int, ...]:
    row = run(sql("SELECT (SELECT COUNT(*) FROM audit_event) AS a, (SELECT COUNT(*) FROM transfer) AS t, "
                  "(SELECT COUNT(*) FROM member WHERE status <> 'active') AS m, (SELECT COUNT(*) FROM case_event) AS e, "
                  "(SELECT COUNT(*) FROM unit) AS u"))[0]
    return row["a"], row["t"], row["m"], row["e"], row["u"]


@pytest.fixture(scope="module")
def world(api) -> World:
    """Two communities and a member of each role, made once for the module: each cell makes its own objects
    and compares the traces before and after its request, so cells share the world without meeting."""
    a, b = new_community(api), new_community(api)
    catalogue = load_catalogue(ROOT / "rules" / "rewards.toml")
    meal = {}
    for where, c in (("A", a), ("B", b)):
        run(rewards.load_catalogue(c.id, catalogue))
        rid = run(sql("SELECT id FROM reward WHERE community = {} AND code = 'r.meal_voucher'", c.id))[0]["id"]
        run(sql("UPDATE reward SET limit_count = NULL WHERE id = {} RETURNING id", rid))
        run(rewards.restock(Actor(c.staff.id, "staff", c.id, "", "active"), rid, 900, "矩阵测试备货"))
        meal[where] = rid
    pending_phone = new_phone()
    run(members.create_member(a.id, "rider", "待审骑手", pending_phone, PASSWORD, "meituan", "pending", "MT-9"))
    admin_phone = new_phone()
    run(members.create_member(a.id, "admin", "管理员", admin_phone, PASSWORD))
    for c in (a, b):
        grant(c.id, c.riders[0].id, 1000)
        grant(c.id, c.residents[0].id, 1000)
    admin = api.user(admin_phone)
    units, handlers = {}, {}
    for where, c in (("A", a), ("B", b)):
        made = api.post("/api/v1/admin/units", admin, json={"kind": "urban", "name": f"城管{where}{c.id}",
                                                            "communities": [c.id]})
        assert made.status_code == 201, made.text
        units[where] = made.json()["id"]
        phone = new_phone()
        handler = api.post("/api/v1/admin/members", admin, json={
            "role": "handler", "community_id": c.id, "phone": phone, "name": "王师傅", "password": PASSWORD,
            "unit_id": units[where]})
        assert handler.status_code == 201, handler.text
        handlers[where] = api.user(phone)
    users = {"anonymous": None, "pending": api.user(pending_phone), "rider": a.riders[0], "resident": a.residents[0],
             "staff_a": a.staff, "staff_b": b.staff, "admin": admin, "handler": handlers["A"]}
    return World(api, a, b, users, photo(), meal, handlers, units)


@pytest.mark.parametrize("endpoint", sorted(ENDPOINTS) + sorted(READS))
def test_every_role_gets_what_the_policy_says(world, endpoint):
    kind, ok, make, request = {**ENDPOINTS, **READS}[endpoint]
    wrong, made = [], {}
    for where, role in itertools.product("AB", ROLES):
        obj = made[where] if where in made else make(world, where)
        method, path, body, headers = request(obj)
        if method == "GET":  # a read changes nothing: one object serves every role
            made[where] = obj
        before = traces()
        if body and body.get("form"):
            response = world.api.request(method, path, world.users[role], data=body, headers=headers,
                                         follow_redirects=False)
        elif body and "multipart" in body:
            response = world.api.request(method, path, world.users[role], data={"note": body["multipart"]},
                                         files=[("photos", ("fix.jpg", world.jpeg, "image/jpeg"))], headers=headers)
        else:
            response = world.api.request(method, path, world.users[role], json=body, headers=headers)
        expected = policy(kind, role, where, ok)
        if expected == 401 and not path.startswith("/api/"):
            expected = 303  # a page sends the signed-out visitor to log in
        if response.status_code != expected:
            wrong.append(f"{role} on {where}: {response.status_code}, policy says {expected}: {response.text[:200]}")
        elif expected >= 400 and traces() != before:
            wrong.append(f"{role} on {where}: refused ({expected}) but left a trace {before} → {traces()}")
    assert not wrong, "\n".join(wrong)


def test_every_route_is_in_the_matrix(world):
    """Every route of the app — API and pages, reads and changes — is in the tables above, or named here with
    where its access is tested."""
    import re

    from web.app import create_app

    tested_elsewhere = {
        ("POST", "/api/v1/auth/register"), ("POST", "/api/v1/auth/login"), ("POST", "/api/v1/auth/code"),
        ("POST", "/api/v1/auth/login/code"), ("POST", "/api/v1/auth/logout"),  # test_accounts.py, test_hardening.py
        ("POST", "/api/v1/submissions"),  # test_submit.py: reporters only, the member's own community
        ("GET", "/open311/v2/{name:str}"), ("GET", "/open311/v2/services/{name:str}"),  # public reads, and filing
        ("GET", "/open311/v2/requests/{name:str}"), ("GET", "/open311/v2/tokens/{name:str}"),  # by api_key:
        ("POST", "/open311/v2/{name:str}"),  # test_open311.py
        ("POST", "/api/v1/shop/orders/{order_id:int}/cancel"),  # test_shop.py: the member's own order
        ("POST", "/api/v1/staff/shop/rewards"), ("PUT", "/api/v1/staff/shop/rewards/{reward_id:int}"),  # test_shop
        ("POST", "/api/v1/admin/members"),  # test_only_admins_make_staff, below
        ("POST", "/api/v1/me/delete"),  # test_privacy.py
        ("POST", "/login"), ("POST", "/login/code"), ("POST", "/logout"), ("POST", "/register"),
        ("POST", "/report"),  # test_pages.py, test_accounts.py, test_hardening.py
        ("POST", "/orders/{order_id:int}/cancel"),  # the member's own order, as the API's (test_shop.py)
        ("POST", "/admin/tokens"),  # tokens.issue as the API's; the page in test_dashboard.py
        ("POST", "/account"), ("POST", "/account/delete"),  # the member's own account: test_member_pages.py
        ("POST", "/staff/queue/approve"), ("POST", "/staff/queue/undo"),  # per report, in scope: test_batch.py
        ("GET", "/p/{code:str}/fixed/{photo_id:int}"),  # public: a closed case's after-photo (test_case_pages.py)
        ("POST", "/cases/{case_id:int}/rate"),  # the page's form of rateCase, above (test_case_pages.py)
        ("GET", "/admin/units"), ("POST", "/admin/units"), ("POST", "/admin/handlers"),  # admins: test_cases.py
        ("GET", "/handler"), ("POST", "/handler/cases/{case_id:int}/{action:str}"),  # the pages: test_cases.py
        ("GET", "/staff/cases"), ("POST", "/staff/cases/{case_id:int}/{action:str}"),
        # a patrol's checkpoint photos and a no-show's appeal need a patrol walked or a task past its end:
        # test_tasks.py (404 in another community, 403 for the role, the taker's own photos)
        ("POST", "/api/v1/tasks/{task_id:int}/checkpoints/{checkpoint_id:int}/photo"),
        ("POST", "/api/v1/tasks/{task_id:int}/appeal"), ("GET", "/api/v1/tasks/{task_id:int}/photos/{photo_id:int}"),
        ("POST", "/api/v1/staff/tasks/{task_id:int}/appeals/{member_id:int}"),
        ("POST", "/api/v1/admin/communities/{community_id:int}/scheme"),  # admins only: test_schemes.py
        ("GET", "/api/v1/admin/compare"), ("GET", "/admin/compare"),  # admins, their area only: test_areas.py
        ("GET", "/tasks"), ("GET", "/tasks/{task_id:int}"), ("POST", "/tasks/{task_id:int}/{action:str}"),
        ("POST", "/tasks/{task_id:int}/checkpoints/{checkpoint_id:int}"), ("GET", "/staff/tasks"),
        ("POST", "/staff/tasks"), ("GET", "/staff/tasks/{task_id:int}"), ("GET", "/staff/tasks/{task_id:int}/code"),
        ("POST", "/staff/tasks/{task_id:int}/{action:str}"),  # the pages: test_task_pages.py
        ("POST", "/api/v1/admin/forwardings"), ("GET", "/api/v1/admin/forwardings"),  # admins, and staff of
        ("POST", "/api/v1/admin/forwardings/{forwarding_id:int}/disable"), ("GET", "/api/v1/staff/outbox"),  # their
        ("POST", "/api/v1/staff/outbox/{event_id:int}/retry"), ("GET", "/staff/cases/forwarded"),  # community only;
        ("POST", "/staff/cases/forwarded/{event_id:int}/retry"),  # callbacks signed, not signed in:
        ("POST", "/api/v1/forwarding/{forwarding_id:int}/callback"), ("POST", "/admin/forwardings"),
        ("POST", "/admin/forwardings/{forwarding_id:int}/disable"),  # test_forwarding.py
    }
    routes = {(method, route.path) for route in create_app().routes for method in getattr(route, "methods", ())
              if method not in ("OPTIONS", "HEAD") and not route.path.startswith(("/schema", "/static"))}
    patterns = {(method, path): re.compile("^" + re.sub(r"\\\{\w+:(\w+)\\\}", lambda m: r"\d+" if m.group(1) == "int"
                                                        else r"[^/]+", re.escape(path)) + "$")
                for method, path in routes}
    covered = set()
    for name, (_, _, make, request) in {**ENDPOINTS, **READS}.items():
        method, concrete, _, _ = request(make(world, "A"))
        matches = {route for route, pattern in patterns.items() if route[0] == method and pattern.match(concrete)}
        assert matches, f"{name}: {method} {concrete} is no route of the app"
        covered |= matches
    assert routes - covered - tested_elsewhere == set()


def test_only_admins_make_staff(api, world):
    body = {"role": "staff", "community_id": world.b.id, "phone": new_phone(), "name": "新社工", "password": PASSWORD}
    for role in ROLES:
        response = api.post("/api/v1/admin/members", world.users[role], json={**body, "phone": new_phone()})
        assert response.status_code == (201 if role == "admin" else 401 if role == "anonymous" else 403), role
