"""Admins' pages: members and roles, units and the outside systems they are reached through, API tokens, the audit
log, the rules in force."""

from __future__ import annotations

from datetime import timedelta

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromQuery
from litestar.response import Redirect, Template

from points import audit
from points.areas import tree as areas
from points.cases import forwarding, units
from points.errors import DomainError
from points.ops import stats
from points.people import communities, members, tokens
from points.vocabulary import Role
from rules import Rules, fields
from web.auth import admin_only
from web.pages import act, back, field_errors, form, form_ids, form_number, problem, render
from web.schemas.base import DayQuery, IdPath, IdQuery


async def _units_page(request: Request, rules: Rules, refused: DomainError | None = None,
                      linked: dict | None = None) -> Template:
    """The units, their kinds, communities and outside systems, and the forms to add a unit and a handler and to
    link a unit to its system (with what was refused; a new webhook secret, shown this once)."""
    return render(request, "admin_units.html", http_status=refused.status if refused else 200,
                  rows=await units.listing(request.user), communities=await communities.directory(),
                  links={f["unit"]: f for f in await forwarding.listing(request.user)}, linked=linked,
                  kinds={k.id: k for k in rules.cases.units}, errors=field_errors(request, refused) if refused else {})


class AdminPages(Controller):
    path = "/admin"
    include_in_schema = False
    guards = [admin_only]

    @get("/")
    async def home(self, request: Request) -> Template:
        return render(request, "admin_home.html", area=await areas.admin_area(request.user))

    @get("/compare")
    async def compare(self, request: Request, rules: NamedDependency[Rules], since: DayQuery = None,
                      until: DayQuery = None) -> Template:
        """Every community in the admin's area side by side over a period (the last 30 days), and the roll-up."""
        start, end = stats.period(since, until, rules)
        return render(request, "admin_compare.html", c=await areas.compare(request.user, start, end),
                      area=await areas.admin_area(request.user), since=rules.local_date(start),
                      until=rules.local_date(end) - timedelta(days=1))

    @get("/members")
    async def member_list(self, request: Request, status: FromQuery[str | None] = None) -> Template:
        return render(request, "admin_members.html", rows=await members.listing(request.user, status, 500, 0),
                      roles=tuple(r for r in Role if r != Role.HANDLER))

    @post("/members/{member_id:int}/role", status_code=303)
    async def set_role(self, request: Request, member_id: IdPath) -> Redirect:
        role = str((await form(request)).get("role", ""))
        return await act(members.set_role(request.user, member_id, role), "/admin/members", "role_changed")

    @get("/units")
    async def unit_list(self, request: Request, rules: NamedDependency[Rules]) -> Template:
        return await _units_page(request, rules)

    @post("/units", status_code=303)
    async def add_unit(self, request: Request, rules: NamedDependency[Rules]) -> Redirect | Template:
        data = await request.form()
        try:
            await units.create_unit(request.user, rules, str(data.get("kind", "")), str(data.get("name", "")),
                                    form_ids(data.getall("communities", []), "communities"))
        except DomainError as exc:
            return await _units_page(request, rules, exc)
        return back("/admin/units", "unit_added")

    @post("/handlers", status_code=303)
    async def add_handler(self, request: Request, rules: NamedDependency[Rules]) -> Redirect | Template:
        data = await form(request)
        try:
            await members.create_staff(request.user, form_number(data, "community_id", fields.ID) or 0, Role.HANDLER,
                                       str(data.get("name", "")), str(data.get("phone", "")),
                                       str(data.get("password", "")), form_number(data, "unit_id", fields.ID) or 0)
        except DomainError as exc:
            return await _units_page(request, rules, exc)
        return back("/admin/units", "handler_added")

    @post("/forwardings", status_code=200)
    async def link_unit(self, request: Request, rules: NamedDependency[Rules]) -> Template:
        data = await form(request)
        try:
            linked = await forwarding.configure(
                request.user, form_number(data, "unit", fields.ID) or 0, str(data.get("kind", "")),
                str(data.get("url", "")), str(data.get("secret", "")), str(data.get("service_code", "")),
                str(data.get("jurisdiction", "")), data.get("auto_dispatch") == "on")
        except DomainError as exc:
            return await _units_page(request, rules, exc)
        return await _units_page(request, rules, linked=linked)

    @post("/forwardings/{forwarding_id:int}/disable", status_code=303)
    async def unlink_unit(self, request: Request, forwarding_id: IdPath) -> Redirect:
        return await act(forwarding.disable(request.user, forwarding_id), "/admin/units", "forwarding_disabled")

    @get("/tokens")
    async def token_list(self, request: Request) -> Template:
        return render(request, "admin_tokens.html", rows=await tokens.listing(request.user), issued=None,
                      communities=await communities.directory())

    @post("/tokens", status_code=200)
    async def issue(self, request: Request) -> Template:
        data = await form(request)
        try:
            issued = await tokens.issue(request.user, str(data.get("name", "")),
                                        form_number(data, "community_id", fields.ID) or 0, str(data.get("role", "")))
        except DomainError as exc:
            return render(request, "admin_tokens.html", http_status=400, error=problem(request, exc),
                          rows=await tokens.listing(request.user), issued=None, communities=await communities.directory())
        return render(request, "admin_tokens.html", rows=await tokens.listing(request.user), issued=issued,
                      communities=await communities.directory())

    @post("/tokens/{token_id:int}/revoke", status_code=303)
    async def revoke(self, request: Request, token_id: IdPath) -> Redirect:
        await tokens.revoke(request.user, token_id)
        return back("/admin/tokens", "revoked")

    @get("/audit")
    async def audit_log(self, request: Request, action: FromQuery[str | None] = None,
                        community: IdQuery = None, actor: IdQuery = None,
                        before: IdQuery = None) -> Template:
        rows = await audit.listing(request.user, action or None, community, actor, before_id=before, limit=100)
        return render(request, "admin_audit.html", rows=rows, action=action or "", community=community or "",
                      actor=actor or "", communities=await communities.directory(), actions=audit.ACTIONS)

    @get("/rules")
    async def rules_table(self, request: Request, rules: NamedDependency[Rules]) -> Template:
        return render(request, "admin_rules.html", rules=rules)
