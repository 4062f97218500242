"""Riders' and residents' pages (mobile first): home, 随手拍 report, my reports, the shop, my orders, points."""

from __future__ import annotations

from collections import Counter
from typing import Any

from litestar import Controller, MediaType, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.response import Redirect, Template

from points import idempotency
from points.areas import grids, schemes
from points.cases import rating, reading
from points.errors import DomainError, NotFound
from points.infra.photo_store import PhotoStore
from points.ledger import expiry, honours, statements
from points.ledger import transfers as ledger
from points.ops.dispatch import Dispatcher
from points.people import member_data, members, notices, referrals
from points.reports import appeals
from points.reports import views as submissions
from points.reports.intake import RESENT_WITHIN, PhotoLimits, Report
from points.shop import counter, orders, rewards
from points.vocabulary import MemberStatus, OrderStatus, Role
from rules import Rules, fields
from web import i18n
from web.auth import reporters_only
from web.flows import file_report
from web.limits import Limiter
from web.pages import (
    act,
    back,
    error_words,
    field_errors,
    form,
    form_number,
    problem,
    qr,
    render,
    render_text,
)
from web.photos import chosen_files
from web.schemas.base import IdPath
from web.sessions import Session, Sessions
from web.view_cache import ViewCache


def _choices(rules: Rules, role: str, usage: Counter) -> dict[str, list[Any]]:
    """The items this member may report (shown by category), and the five they use most (shown first)."""
    items = [i for i in rules.items if i.reportable and role in i.roles]
    favourites = [i for i in sorted(items, key=lambda i: -usage[i.id]) if usage[i.id]][:5]
    return {"items": items, "favourites": favourites}


async def _report_form(request: Request, rules: Rules, http_status: int = 200,
                       errors: dict[str, list[str]] | None = None, data: dict[str, str] | None = None,
                       photos_dropped: bool = False) -> Template:
    """The report form: empty, or again with what was sent and every problem beside its field. Its
    Idempotency-Key is made here, once per form, so a second tap or a resubmit after going back sends the
    same report."""
    actor = request.user
    choices = _choices(rules, actor.role, await submissions.usual_items(actor))
    data = data or {}
    return render(request, "report.html", http_status=http_status, rules=rules, **choices,
                  fav_ids=[i.id for i in choices["favourites"]], grids=await grids.listing(actor.community_id),
                  data=data, errors=errors or {}, photos_dropped=photos_dropped, words=error_words(request),
                  form_key=data.get("idempotency_key") or idempotency.form_key(),
                  can_report=actor.status == MemberStatus.ACTIVE, status=actor.status,
                  limits={"description": fields.DESCRIPTION.max_length, "address": fields.ADDRESS.max_length})


class MemberPages(Controller):
    include_in_schema = False

    @get("/")
    async def home(self, request: Request, views: NamedDependency[ViewCache]) -> Template | Redirect | Response[str]:
        actor = request.user
        if actor.is_staff:
            return render(request, "staff_home.html")
        if actor.role == Role.HANDLER:
            return Redirect("/handler/", status_code=303)
        session = request.scope.get("auth")
        if not isinstance(session, Session):  # an API token's caller: nothing of theirs is kept
            return Response((await _home(request))[0], media_type=MediaType.HTML)
        key = ("home", session.sid, i18n.choose(request.cookies), request.url.query)
        page, _ = await views.kept(key, actor, lambda: _home(request), size=lambda p: len(p[0]),
                                   worth=lambda p: not p[1])
        return Response(page, media_type=MediaType.HTML)

    @get("/report", guards=[reporters_only])
    async def report_page(self, request: Request, rules: NamedDependency[Rules]) -> Template:
        return await _report_form(request, rules)

    @post("/report", guards=[reporters_only], status_code=303)
    async def report(self, request: Request, limiter: NamedDependency[Limiter], rules: NamedDependency[Rules],
                     store: NamedDependency[PhotoStore], limits: NamedDependency[PhotoLimits],
                     dispatcher: NamedDependency[Dispatcher]) -> Redirect | Template:
        data = await request.form()
        photos = await chosen_files(data, "photos")
        try:
            report = Report(item=str(data.get("item") or data.get("item_other") or ""),
                            description=str(data.get("description", "")),
                            lat=form_number(data, "lat", kind=float), lng=form_number(data, "lng", kind=float),
                            grid=data.get("grid") or None, address=str(data.get("address", "")),
                            units=form_number(data, "units", fields.UNITS) or 1)
            await file_report(request, limiter, dispatcher, rules, store, limits, report,
                              photos, data.get("idempotency_key") or None, resent_within=RESENT_WITHIN)
        except DomainError as exc:
            sent = {k: v for k, v in data.items() if isinstance(v, str)}
            sent["item"] = sent.get("item") or sent.get("item_other", "")
            # A browser never sends a chosen file again: the member is told to choose it again.
            return await _report_form(request, rules, exc.status, field_errors(request, exc), sent, bool(photos))
        return back("/submissions", "reported")

    @post("/cases/{case_id:int}/rate", guards=[reporters_only], status_code=303)
    async def rate_case(self, request: Request, case_id: IdPath, rules: NamedDependency[Rules]) -> Redirect:
        """回访: the reporter's rating of how their problem was handled."""
        data = await form(request)
        try:
            stars = form_number(data, "stars", fields.RATING) or 0
        except DomainError as exc:
            return back("/submissions", f"error.{exc.code}")
        return await act(rating.rate(request.user, rules, case_id, stars, str(data.get("comment", ""))),
                         "/submissions", "case_rated")

    @get("/submissions")
    async def my_submissions(self, request: Request, rules: NamedDependency[Rules]) -> Template:
        mine = await submissions.mine(request.user, rules, 100)
        return render(request, "submissions.html", submissions=mine,
                      cases=await reading.of_my_reports(request.user, [m["id"] for m in mine if m["case_id"]]))

    @get("/points")
    async def points(self, request: Request, rules: NamedDependency[Rules]) -> Template:
        history = await statements.described(
            rules, await appeals.of_history(request.user, rules, await ledger.history(request.user, 100)),
            i18n.choose(request.cookies))
        return render(request, "points.html", history=history,
                      balance=await ledger.balances(request.user),
                      expiring=await expiry.upcoming(rules, request.user), appeal_days=rules.duplicates.appeal_days)

    @post("/points/{transfer_id:int}/appeal", status_code=303)
    async def appeal(self, request: Request, transfer_id: IdPath, rules: NamedDependency[Rules]) -> Redirect:
        """申诉 from a penalty's line of the history."""
        reason = str((await form(request)).get("reason", ""))
        return await act(appeals.appeal(request.user, rules, transfer_id, reason), "/points", "penalty_appealed")

    @get("/shop")
    async def shop_page(self, request: Request, rules: NamedDependency[Rules]) -> Template:
        return render(request, "shop.html", rewards=await rewards.catalogue_for(request.user, rules.tz),
                      balance=await ledger.balances(request.user))

    @get("/shop/{reward_id:int}", guards=[reporters_only])
    async def confirm_order(self, request: Request, reward_id: IdPath, rules: NamedDependency[Rules]) -> Template:
        """One reward and what ordering it leaves: the member confirms before points are held."""
        offered = {r["id"]: r for r in await rewards.catalogue_for(request.user, rules.tz)}
        if reward_id not in offered:
            raise NotFound("reward")
        return render(request, "shop_confirm.html", reward=offered[reward_id], pickup_days=rules.pickup_days,
                      balance=await ledger.balances(request.user), form_key=idempotency.form_key())

    @post("/shop/{reward_id:int}", guards=[reporters_only], status_code=303)
    async def order(self, request: Request, reward_id: IdPath, rules: NamedDependency[Rules]) -> Redirect:
        data = await request.form()
        return await act(orders.place_order(request.user, reward_id, rules.tz, rules.pickup_days,
                                          data.get("idempotency_key") or None), "/orders", "ordered", "/shop")

    @get("/orders")
    async def orders(self, request: Request) -> Template:
        return render(request, "orders.html", orders=await orders.my_orders(request.user, 50))

    @post("/orders/{order_id:int}/cancel", status_code=303)
    async def cancel(self, request: Request, order_id: IdPath) -> Redirect:
        await counter.cancel(request.user, order_id)
        return back("/orders", "cancelled")

    @get("/account")
    async def account(self, request: Request) -> Template:
        invite = await referrals.invitation(request.user, str(request.base_url))
        return render(request, "account.html", profile=await members.profile(request.user),
                      choices=honours.BOARD_NAMES, invite=invite, qr=qr(invite["link"]))

    @post("/account", status_code=303)
    async def account_save(self, request: Request) -> Redirect:
        await members.set_board_name(request.user, str((await request.form()).get("board_name", "")))
        return back("/account", "saved")

    @post("/account/delete", status_code=303)
    async def delete(self, request: Request, sessions: NamedDependency[Sessions]) -> Redirect | Template:
        try:
            await member_data.delete(request.user, str((await request.form()).get("password", "")))
        except DomainError as exc:
            return render(request, "account.html", http_status=exc.status, error=problem(request, exc),
                          profile=await members.profile(request.user), choices=honours.BOARD_NAMES)
        await sessions.end(request.auth.sid)
        return back("/login", "deleted")


async def _home(request: Request) -> tuple[str, bool]:
    """A rider's or resident's home page: balance and stars, rank, points about to expire, latest reports, news
    since the last visit, orders to pick up; and whether it told news (told once, so not to be kept)."""
    actor = request.user
    rules = await schemes.for_actor(actor)  # read with the page: a kept one needs none
    profile, balance = await members.overview(actor)
    recent = await submissions.mine(actor, rules, limit=5)
    rank = await honours.standing(rules, actor)
    news = await notices.since_last_visit(actor, rules)
    page = render_text(request, "home.html", profile=profile, balance=balance,
                       stars=honours.stars(rules, balance["lifetime"]),
                       next_star=honours.next_star(rules, balance["lifetime"]), rank=rank,
                       expiring=(await expiry.upcoming(rules, actor))[:1], recent=recent, news=news,
                       orders=[o for o in await orders.my_orders(actor, 5) if o["status"] == OrderStatus.HELD])
    return page, bool(news)
