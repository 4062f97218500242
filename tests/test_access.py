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
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from taskwork import at, code, publish

from conftest import PASSWORD, User, grant, near, new_community, new_phone, photo, run
from harness import wait_for
from points.areas import schemes
from points.areas import tree as areas
from points.infra.config import ROOT
from points.infra.db import sql, write
from points.people import members, tokens
from points.reports import appeals, spam
from points.scope import Actor
from points.shop import rewards
from points.vocabulary import SubmissionStatus, owed_key, spam_key
from rules.catalogue import load_catalogue

pytestmark = pytest.mark.not_calendar  # who may do what does not depend on the day

ROLES = ("anonymous", "pending", "rider", "resident", "staff_a", "staff_b", "admin", "street_admin", "district_admin",
         "partner", "handler")
# Kinds of endpoint that act on no object of A or B: an area's admin gets there what any admin does.
LISTS = ("public", "member", "home", "staff_list", "admin_list", "handler_list", "reporter_page", "reporter_act")
_spot = itertools.count(1)


def policy(kind: str, role: str, where: str, ok: int) -> int:
    """What `role` gets from an endpoint of `kind` acting on an object in community `where` (A or B).
    The pending rider, rider, resident and staff_a belong to A; staff_b to B; the admin to A, acting on all;
    the handler works for the unit that serves A (B's cases go to another unit). A's cases are reported by
    A's rider. The street's admin has the street of A only; the district's admin the district of A and B; the
    partner is a staff API token of A (sent as a bearer, no session)."""
    if role == "partner":
        return policy(kind, "staff_a", where, ok)
    if role in ("street_admin", "district_admin"):
        as_admin = policy(kind, "admin", where, ok)
        if role == "district_admin" or where == "A" or kind in LISTS or as_admin in (401, 403):
            return as_admin
        return 400 if kind == "admin_names" else 404  # outside their area: a named community is unknown
    if kind == "public":  # anyone, signed in or not
        return ok
    if role == "anonymous":
        return 401
    if kind == "mine":  # a line of A's rider's own points history: theirs alone (staff decide on it, elsewhere)
        return ok if role == "rider" and where == "A" else 404
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
    if kind in ("admin", "admin_list", "admin_names"):
        return ok if role == "admin" else 403
    if kind == "member":  # anyone signed in, about themselves or their community (a pending rider may look)
        return ok
    if kind == "staff_list":  # staff's own community's lists and tools
        return 403 if role in ("pending", "rider", "resident") else ok
    if kind == "reporter_act":  # riders and residents act in their own community, wherever the object is
        return 403 if role in ("staff_a", "staff_b", "admin", "pending") else ok
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
        # under an hour: confirming it (counted to its planned end) gives no hours, so no cell uses up a cap
        task_id = publish(self.api, staff, ends_at=at(50), signup_closes_at=at(40), **near())["id"]
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

    def confirmed(self, where: str) -> tuple[int, int]:
        """A task whose first rider was confirmed present (0 hours: the task is under an hour)."""
        task_id, _ = self.checked_in(where)
        c = self.community(where)
        done = self.api.post(f"/api/v1/staff/tasks/{task_id}/confirm", c.staff, json={"until_end": True})
        assert done.status_code == 200, done.text
        return task_id, c.riders[0].id

    def case_photo(self, where: str) -> tuple[int, int]:
        case_id = self.case(where, "disposed")
        return case_id, run(sql("SELECT id FROM case_photo WHERE \"case\" = {}", case_id))[0]["id"]

    def case_report_photo(self, where: str) -> tuple[int, int]:
        case_id = self.case(where)
        return case_id, run(sql("SELECT p.id FROM photo p JOIN case_file c ON c.submission = p.submission "
                                "WHERE c.id = {}", case_id))[0]["id"]

    def penalty(self, where: str) -> int:
        """A 恶意重复刷报 penalty of the community's first rider, as the sweep gives it: its history line."""
        c = self.community(where)
        rules = run(schemes.for_community(c.id))
        day = date(2026, 1, 1) + timedelta(days=next(_spot))  # a penalty is once a member-day
        row = {"member": c.riders[0].id, "community": c.id, "local_day": day, "n": 3}
        assert run(write(lambda: spam._penalise(rules, rules.item(spam.ITEM), row)))
        key = spam_key(c.riders[0].id, day)
        return run(sql("SELECT id FROM transfer WHERE idempotency_key IN ({}, {})", key, owed_key(key)))[0]["id"]

    def penalty_appeal(self, where: str) -> int:
        """That penalty, appealed by its rider: the appeal staff decide on."""
        c, line = self.community(where), self.penalty(where)
        rider = Actor(c.riders[0].id, "rider", c.id, "", "active")
        return run(appeals.appeal(rider, run(schemes.for_community(c.id)), line, "三处不同的问题"))["id"]

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

    def order(self, where: str, owner: User | None = None) -> dict[str, Any]:
        c = self.community(where)
        owner = owner or c.residents[1]
        grant(c.id, owner.id, 200)
        response = self.api.post("/api/v1/shop/orders", owner, json={"reward": self.rewards[where]})
        assert response.status_code == 201, response.text
        return response.json()

    def own_order(self, where: str) -> int:
        """An order of the community's first rider (the matrix's rider, in A)."""
        return self.order(where, self.community(where).riders[0])["id"]

    def unit(self, where: str) -> int:
        """A new unit serving the community (made by the deployment's admin)."""
        made = self.api.post("/api/v1/admin/units", self.users["admin"], json={
            "kind": "property", "name": f"物业{uuid.uuid4().hex[:8]}", "communities": [self.community(where).id]})
        assert made.status_code == 201, made.text
        return made.json()["id"]

    def forwarding(self, where: str) -> int:
        """A new unit's link to an outside system (nothing is dispatched to it, so nothing is sent)."""
        made = self.api.post("/api/v1/admin/forwardings", self.users["admin"], json={
            "unit": self.unit(where), "kind": "webhook", "url": "https://platform.example/hook"})
        assert made.status_code == 201, made.text
        return made.json()["id"]

    def fixed_photo(self, where: str) -> tuple[str, int]:
        """The community's code and the after-photo of one of its closed cases (shown on its public page)."""
        case_id = self.case(where, "closed")
        return (run(sql("SELECT code FROM community WHERE id = {}", self.community(where).id))[0]["code"],
                run(sql("SELECT id FROM case_photo WHERE \"case\" = {}", case_id))[0]["id"])

    def request_id(self, where: str) -> tuple[str, int]:
        """The community's code (Open311's jurisdiction) and a report of it (a service request)."""
        return (run(sql("SELECT code FROM community WHERE id = {}", self.community(where).id))[0]["code"],
                self.submission(where))


FORM = {"form": "1"}  # marks a page's form post: sent urlencoded, as a browser does


def _nothing(w: World, where: str) -> None:
    return None


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
                     lambda cid: ("POST", f"/api/v1/staff/cases/{cid}/resolve", {"note": "就地解决", "files": [_fix()]}, {})),
    "case_recheck": ("staff", 200, lambda w, where: w.case(where, "disposed"),
                     lambda cid: ("POST", f"/api/v1/staff/cases/{cid}/recheck", None, {})),
    "case_conclude": ("staff", 200, lambda w, where: w.case(where, "rechecking"),
                      lambda cid: ("POST", f"/api/v1/staff/cases/{cid}/conclude", {"fixed": True}, {})),
    "case_conclude_photos": ("staff", 200, lambda w, where: w.case(where, "rechecking"),
                             lambda cid: ("POST", f"/api/v1/staff/cases/{cid}/conclude/photos",
                                          {"fixed": "true", "files": [_fix()]}, {})),
    "case_extension_decide": ("staff", 200, World.extension_asked,
                              lambda cid: ("POST", f"/api/v1/staff/cases/{cid}/extension", {"grant": True}, {})),
    "case_reopen": ("staff", 200, World.rated_unsatisfied,
                    lambda cid: ("POST", f"/api/v1/staff/cases/{cid}/reopen", {"note": "群众不满意,重新处置"}, {})),
    "case_accept": ("case_handler", 200, World.case,
                    lambda cid: ("POST", f"/api/v1/handler/cases/{cid}/accept", None, {})),
    "case_return": ("case_handler", 200, World.case,
                    lambda cid: ("POST", f"/api/v1/handler/cases/{cid}/return", {"note": "不归我们管"}, {})),
    "case_dispose": ("case_handler", 200, lambda w, where: w.case(where, "accepted"),
                     lambda cid: ("POST", f"/api/v1/handler/cases/{cid}/dispose", {"note": "已修好", "files": [_fix()]}, {})),
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
    "task_publish": ("staff_list", 201, _nothing,
                     lambda _: ("POST", "/api/v1/staff/tasks", task_body(), {})),
    "task_call_off": ("staff", 200, World.task,
                      lambda tid: ("POST", f"/api/v1/staff/tasks/{tid}/cancel", {"note": "下雨,改期"}, {})),
    "task_attend": ("staff", 200, lambda w, where: (w.signed_up(where), w.community(where).riders[0].id),
                    lambda t: ("POST", f"/api/v1/staff/tasks/{t[0]}/attend", {"member": t[1]}, {})),
    "task_confirm": ("staff", 200, lambda w, where: w.checked_in(where)[0],
                     lambda tid: ("POST", f"/api/v1/staff/tasks/{tid}/confirm", {"until_end": True}, {})),
    "task_correct": ("staff", 200, World.confirmed,
                     lambda t: ("POST", f"/api/v1/staff/tasks/{t[0]}/correct", {"member": t[1], "hours": 0,
                                                                                "note": "矩阵:核对工时"}, {})),
    "unit_new": ("admin_names", 201, lambda w, where: w.community(where).id,
                 lambda cid: ("POST", "/api/v1/admin/units", {"kind": "gas", "name": f"燃气公司{uuid.uuid4().hex[:6]}",
                                                               "communities": [cid]}, {})),
    "token": ("admin_names", 201, lambda w, where: w.community(where).id,
              lambda cid: ("POST", "/api/v1/admin/tokens", {"name": "平台", "community_id": cid, "role": "staff"},
                           {})),
    "report": ("reporter_act", 201, lambda w, where: next(_spot),
               lambda spot: ("POST", "/api/v1/submissions", {"files": [("photos", ("p.jpg", photo(), "image/jpeg"))],
                                                             "item": "order.streetlight_broken",
                                                             **near(metres_east=200 * spot)}, {})),
    "cancel_my_order": ("own", 200, World.own_order,
                        lambda oid: ("POST", f"/api/v1/shop/orders/{oid}/cancel", None, {})),
    "reward_new": ("staff_list", 201, _nothing,
                   lambda _: ("POST", "/api/v1/staff/shop/rewards", {
                       "code": f"r.m{uuid.uuid4().hex[:8]}", "name_zh": "矩阵礼品", "name_en": "Matrix gift",
                       "kind": "goods", "price": 10, "stock": 1}, {})),
    "reward_update": ("staff", 200, lambda w, where: w.rewards[where],
                      lambda rid: ("PUT", f"/api/v1/staff/shop/rewards/{rid}", {
                          "code": "r.meal_voucher", "name_zh": "餐券", "name_en": "Meal voucher", "kind": "service",
                          "price": 50, "roles": ["rider", "resident"], "active": True}, {})),
    "staff_new": ("admin_names", 201, lambda w, where: w.community(where).id,
                  lambda cid: ("POST", "/api/v1/admin/members", {"role": "staff", "community_id": cid,
                                                                 "phone": new_phone(), "name": "新社工",
                                                                 "password": PASSWORD}, {})),
    "scheme": ("admin", 200, lambda w, where: w.community(where).id,
               lambda cid: ("POST", f"/api/v1/admin/communities/{cid}/scheme",
                            {"content": (ROOT / "rules" / "default.toml").read_text()}, {})),
    "forwarding_new": ("admin_names", 201, World.unit,
                       lambda uid: ("POST", "/api/v1/admin/forwardings", {
                           "unit": uid, "kind": "webhook", "url": "https://platform.example/hook"}, {})),
    "forwarding_disable": ("admin", 200, World.forwarding,
                           lambda fid: ("POST", f"/api/v1/admin/forwardings/{fid}/disable", None, {})),
    # the pages' forms for the same calls
    "page_report": ("reporter_act", 303, lambda w, where: next(_spot),
                    lambda spot: ("POST", "/report", {"form": "1", "item": "order.streetlight_broken",
                                                      "files": [("photos", ("p.jpg", photo(), "image/jpeg"))],
                                                      **{k: str(v) for k, v in near(metres_east=200 * spot).items()}},
                                  {})),
    "page_cancel_my_order": ("own", 303, World.own_order,
                             lambda oid: ("POST", f"/orders/{oid}/cancel", FORM, {})),
    "page_account": ("member", 303, _nothing, lambda _: ("POST", "/account", {**FORM, "board_name": "masked"}, {})),
    "page_rate": ("case_reporter", 303, lambda w, where: w.case(where, "closed"),
                  lambda cid: ("POST", f"/cases/{cid}/rate", {**FORM, "stars": "5"}, {})),
    "page_unit_new": ("admin_names", 303, lambda w, where: w.community(where).id,
                      lambda cid: ("POST", "/admin/units", {**FORM, "kind": "gas", "communities": str(cid),
                                                            "name": f"燃气{uuid.uuid4().hex[:6]}"}, {})),
    "page_handler_new": ("admin_names", 303, lambda w, where: (w.unit(where), w.community(where).id),
                         lambda u: ("POST", "/admin/handlers", {**FORM, "name": "李师傅", "phone": new_phone(),
                                                                "password": PASSWORD, "unit_id": str(u[0]),
                                                                "community_id": str(u[1])}, {})),
    "page_token": ("admin_names", 200, lambda w, where: w.community(where).id,
                   lambda cid: ("POST", "/admin/tokens", {**FORM, "name": "平台", "community_id": str(cid),
                                                          "role": "staff"}, {})),
    "page_forwarding_new": ("admin_names", 200, World.unit,
                            lambda uid: ("POST", "/admin/forwardings", {
                                **FORM, "unit": str(uid), "kind": "webhook", "url": "https://platform.example/hook"},
                                         {})),
    "page_forwarding_disable": ("admin", 303, World.forwarding,
                                lambda fid: ("POST", f"/admin/forwardings/{fid}/disable", FORM, {})),
    "page_case_dispatch": ("staff", 303, lambda w, where: (w.case(where, "open"), w.units[where]),
                           lambda c: ("POST", f"/staff/cases/{c[0]}/dispatch", {**FORM, "unit": str(c[1])}, {})),
    "page_case_accept": ("case_handler", 303, World.case,
                         lambda cid: ("POST", f"/handler/cases/{cid}/accept", FORM, {})),
    "appeal_penalty": ("mine", 201, World.penalty,
                       lambda tid: ("POST", f"/api/v1/me/history/{tid}/appeal", {"reason": "三处不同的问题"}, {})),
    "page_appeal_penalty": ("mine", 303, World.penalty,
                            lambda tid: ("POST", f"/points/{tid}/appeal", {**FORM, "reason": "三处不同的问题"}, {})),
    "decide_penalty_appeal": ("staff", 200, World.penalty_appeal,
                              lambda aid: ("POST", f"/api/v1/staff/appeals/{aid}", {"grant": True}, {})),
    "page_decide_penalty_appeal": ("staff", 303, World.penalty_appeal,
                                   lambda aid: ("POST", f"/staff/appeals/{aid}/refuse", {**FORM, "note": "同一处"}, {})),
    "page_task_signup": ("reporter", 303, World.task, lambda tid: ("POST", f"/tasks/{tid}/signup", FORM, {})),
    "page_task_publish": ("staff_list", 303, _nothing,
                          lambda _: ("POST", "/staff/tasks", {**FORM, **{k: str(v) for k, v in task_body().items()}},
                                     {})),
    "page_task_call_off": ("staff", 303, World.task,
                           lambda tid: ("POST", f"/staff/tasks/{tid}/cancel", {**FORM, "note": "下雨,改期"}, {})),
}


def _fix() -> tuple[str, tuple[str, bytes, str]]:
    return "photos", ("fix.jpg", photo(), "image/jpeg")


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
        "/staff/export/submissions", "/staff/members", "/staff/shop/new", "/staff/queue", "/api/v1/staff/tasks",
        "/api/v1/staff/cases", "/api/v1/staff/units", "/staff/cases", "/staff/tasks", "/api/v1/staff/outbox",
        "/staff/cases/forwarded", "/api/v1/staff/appeals", "/staff/appeals")},
    "read staff member": ("staff", 200, World.member, _get("/api/v1/staff/members/{obj}")),
    "read order by code": ("staff", 200, World.order, _get("/api/v1/staff/shop/orders/by-code/{obj[pickup_code]}")),
    "read stock history": ("staff", 200, lambda w, where: w.rewards[where],
                           _get("/api/v1/staff/shop/rewards/{obj}/stock")),
    "read reward page": ("staff", 200, lambda w, where: w.rewards[where], _get("/staff/shop/{obj}")),
    "read submission page": ("staff", 200, World.submission, _get("/staff/submissions/{obj}")),
    **{f"read {path}": (kind, 200, World.task, _get(path)) for kind, path in (
        ("community", "/api/v1/tasks/{obj}"), ("staff", "/api/v1/staff/tasks/{obj}/roster"),
        ("staff", "/api/v1/staff/tasks/{obj}/code"), ("reporter_look", "/tasks/{obj}"), ("staff", "/staff/tasks/{obj}"),
        ("staff", "/staff/tasks/{obj}/code"))},
    "read tasks": ("member", 200, _nothing, _get("/api/v1/tasks")),
    "read my tasks": ("member", 200, _nothing, _get("/api/v1/tasks/mine")),
    "read my referral": ("member", 200, _nothing, _get("/api/v1/me/referral")),
    "read case": ("case", 200, World.case, _get("/api/v1/cases/{obj}")),
    "read staff case page": ("staff", 200, World.case, _get("/staff/cases/{obj}")),
    "read case photo": ("case", 200, World.case_photo, _get("/api/v1/cases/{obj[0]}/photos/{obj[1]}")),
    "read case report photo": ("case_photo", 200, World.case_report_photo,
                               _get("/api/v1/cases/{obj[0]}/report-photos/{obj[1]}")),
    "read handler cases": ("handler_list", 200, _nothing, _get("/api/v1/handler/cases")),
    **{f"read {path}": ("admin_list", 200, _nothing, _get(path)) for path in (
        "/api/v1/admin/units", "/api/v1/admin/audit", "/api/v1/admin/tokens", "/admin", "/admin/audit",
        "/admin/tokens", "/admin/members", "/admin/rules", "/admin/units", "/api/v1/admin/compare", "/admin/compare",
        "/api/v1/admin/forwardings")},
    "read handler page": ("handler_list", 200, _nothing, _get("/handler")),
    "read tasks page": ("reporter_page", 200, _nothing, _get("/tasks")),
    "read fixed photo": ("public", 200, World.fixed_photo, _get("/p/{obj[0]}/fixed/{obj[1]}")),
    **{f"read open311 {path}": ("public", 200, World.request_id, _get(f"/open311/v2/{path}?jurisdiction_id={{obj[0]}}"))
       for path in ("services.json", "requests.json", "services/order.streetlight_broken.json",
                    "requests/{obj[1]}.json", "tokens/{obj[1]}.json")},
}


def traces() -> tuple[int, ...]:
    row = run(sql("SELECT (SELECT COUNT(*) FROM audit_event) AS a, (SELECT COUNT(*) FROM transfer) AS t, "
                  "(SELECT COUNT(*) FROM member WHERE status <> 'active') AS m, (SELECT COUNT(*) FROM case_event) AS e, "
                  "(SELECT COUNT(*) FROM unit) AS u"))[0]
    return row["a"], row["t"], row["m"], row["e"], row["u"]


def settled() -> None:
    """Wait for what an allowed cell set going behind it (a verified report's award, which may open a case), so
    that the next cell's traces count only its own request."""
    wait_for(lambda: not run(sql("SELECT 1 FROM submission WHERE status = {} LIMIT 1", SubmissionStatus.VERIFIED)),
             what="verified reports to be awarded")


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
    tag = uuid.uuid4().hex[:6]
    run(areas.create_area(f"d{tag}", "矩阵区", "district"))
    for where, c in (("A", a), ("B", b)):
        run(areas.create_area(f"{where.lower()}{tag}", f"矩阵街道{where}", "street", f"d{tag}"))
        run(areas.place_community(c.id, f"{where.lower()}{tag}"))
    area_admins = {}
    for role, area in (("street_admin", f"a{tag}"), ("district_admin", f"d{tag}")):
        phone = new_phone()
        area_id = run(sql("SELECT id FROM area WHERE code = {}", area))[0]["id"]
        run(members.create_member(a.id, "admin", "区域管理员", phone, PASSWORD, area=area_id))
        area_admins[role] = api.user(phone)
    partner = run(tokens.issue(Actor(admin.id, "admin", a.id, "", "active"), "矩阵平台", a.id, "staff"))
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
             "staff_a": a.staff, "staff_b": b.staff, "admin": admin, **area_admins,
             "partner": User(0, "staff", "", None, None, a.id, bearer=partner["token"]), "handler": handlers["A"]}
    return World(api, a, b, users, photo(), meal, handlers, units)


def send(api, method: str, path: str, user: User | None, body: dict | None, headers: dict[str, str]):
    """A cell's request: a page's form urlencoded (with its files multipart), else JSON."""
    if body and ("form" in body or "files" in body):
        fields = {k: v for k, v in body.items() if k != "files"}
        return api.request(method, path, user, data=fields, files=body.get("files"), headers=headers,
                           follow_redirects=False)
    return api.request(method, path, user, json=body, headers=headers)


@pytest.mark.parametrize("endpoint", sorted(ENDPOINTS) + sorted(READS))
def test_every_role_gets_what_the_policy_says(world, endpoint):
    kind, ok, make, request = {**ENDPOINTS, **READS}[endpoint]
    wrong, made = [], {}
    for where, role in itertools.product("AB", ROLES):
        # A refused cell leaves its object as it was, so the next cell may use it; a cell that acted uses it up.
        obj = made[where] if where in made else make(world, where)
        method, path, body, headers = request(obj)
        made[where] = obj
        before = traces()
        response = send(world.api, method, path, world.users[role], body, headers)
        expected = policy(kind, role, where, ok)
        if not path.startswith("/api/") and not path.startswith("/open311/"):
            if expected == 401:
                expected = 303  # a page sends the signed-out visitor to log in
            elif expected in (400, 409) and "error." in response.headers.get("location", ""):
                expected = 303  # a form sent back to its page saying why (else the page shown again, with the status)
        if response.status_code != expected:
            wrong.append(f"{role} on {where}: {response.status_code}, policy says {expected}: {response.text[:200]}")
        elif expected >= 400 and traces() != before:
            wrong.append(f"{role} on {where}: refused ({expected}) but left a trace {before} → {traces()}")
        if method != "GET" and response.status_code < 400 and "error." not in response.headers.get("location", ""):
            del made[where]
            settled()
    assert not wrong, "\n".join(wrong)


def test_every_route_is_in_the_matrix(world):
    """Every route of the app — API and pages, reads and changes — is in the tables above, or named here with
    why it cannot be a row and where its access is tested."""
    import re

    from web.app import create_app

    # Each of these cannot be a row, and says why; where its access is tested instead.
    not_rows = {
        # The caller is who the body says (a phone and password or code), not a role: test_accounts.py,
        # test_hardening.py (lock-out, CSRF, JSON only).
        ("POST", "/api/v1/auth/register"), ("POST", "/api/v1/auth/login"), ("POST", "/api/v1/auth/code"),
        ("POST", "/api/v1/auth/login/code"), ("POST", "/login"), ("POST", "/login/code"), ("POST", "/register"),
        # Ends the caller's own session or account, which the matrix's members must keep: test_accounts.py,
        # test_privacy.py, test_member_pages.py.
        ("POST", "/api/v1/auth/logout"), ("POST", "/logout"), ("POST", "/api/v1/me/delete"), ("POST", "/account/delete"),
        # The api_key in the form is the credential, whoever is signed in (a staff token of another community gets
        # 403 wrong_jurisdiction, a revoked one 403): test_open311.py.
        ("POST", "/open311/v2/{name:str}"),
        # The signature is the credential: test_forwarding.py (a bad or stale signature, a replay).
        ("POST", "/api/v1/forwarding/{forwarding_id:int}/callback"),
        # A batch answers 303 for any ids: a report out of scope is counted refused among the others, never a 404
        # (one report's refusal never fails the rest): test_batch.py checks scope report by report.
        ("POST", "/staff/queue/approve"), ("POST", "/staff/queue/undo"),
        # Need an event an outside system refused until it was parked (a live receiver answering 410):
        # test_forwarding.py (404 for another community's staff).
        ("POST", "/api/v1/staff/outbox/{event_id:int}/retry"), ("POST", "/staff/cases/forwarded/{event_id:int}/retry"),
        # Need a patrol walked at its checkpoints, or a task past its end (the matrix's clock does not move):
        # test_tasks.py, test_task_pages.py (404 in another community, 403 for the role, the taker's own photos).
        ("POST", "/api/v1/tasks/{task_id:int}/checkpoints/{checkpoint_id:int}/photo"),
        ("POST", "/tasks/{task_id:int}/checkpoints/{checkpoint_id:int}"),
        ("POST", "/api/v1/tasks/{task_id:int}/appeal"), ("GET", "/api/v1/tasks/{task_id:int}/photos/{photo_id:int}"),
        ("POST", "/api/v1/staff/tasks/{task_id:int}/appeals/{member_id:int}"),
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
    assert routes - covered - not_rows == set()
