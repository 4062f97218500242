"""Pages anyone may open: log in (password or SMS code), register, the language switch, and a community's
published scheme (积分公示)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import CacheControlHeader, Cookie
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from litestar.response import File, Redirect, Template

from points import clock
from points.areas import schemes
from points.cases import reading
from points.errors import DomainError, NotFound
from points.infra.photo_store import PhotoStore
from points.infra.sms import Sender
from points.ledger import honours
from points.people import communities, members
from points.scope import Actor
from points.shop import rewards
from rules import fields
from web import i18n, signin
from web.limits import Limiter, client_ip
from web.pages import field_errors, problem, render, signed_out_form
from web.photos import photo_response
from web.schemas.base import IdPath, PhotoSize
from web.sessions import Session, Sessions, session_cookies


def _next(target: str | None) -> str:
    return target if target and target.startswith("/") and not target.startswith("//") else "/"


async def _signed_in_redirect(request: Request, sessions: Sessions, actor: Actor, target: str) -> Redirect:
    _, cookies = await signin.start_session(request, sessions, actor)
    redirect = Redirect(_next(target), status_code=303)
    redirect.cookies = cookies
    return redirect


ICON = Path(__file__).resolve().parents[1] / "static" / "icon.svg"


class PublicPages(Controller):
    include_in_schema = False

    @get("/login", public=True)
    async def login_page(self, request: Request, next_: Annotated[str | None, QueryParameter(name="next")] = None) -> Template:
        return render(request, "login.html", next=_next(next_))

    @post("/login", public=True, changes_no_view=True, status_code=303)
    async def login(self, request: Request, limiter: NamedDependency[Limiter],
                    sessions: NamedDependency[Sessions]) -> Redirect | Template:
        data = await signed_out_form(request)
        phone = str(data.get("phone", ""))
        try:
            actor = await signin.with_password(limiter, client_ip(request), phone, str(data.get("password", "")))
        except DomainError as exc:
            return render(request, "login.html", http_status=exc.status, error=problem(request, exc), phone=phone,
                          next=_next(data.get("next")))
        return await _signed_in_redirect(request, sessions, actor, data.get("next"))

    @post("/login/code", public=True, changes_no_view=True, status_code=303)
    async def code_login(self, request: Request, limiter: NamedDependency[Limiter], sender: NamedDependency[Sender],
                         sessions: NamedDependency[Sessions]) -> Redirect | Template:
        """Ask for a code (no `code` field yet), or log in with it."""
        data = await signed_out_form(request)
        phone, code = str(data.get("phone", "")), str(data.get("code", "")).strip()
        try:
            if not code:
                await signin.send_code(limiter, client_ip(request), phone, sender)
                return render(request, "login.html", phone=phone, code_sent=True, next=_next(data.get("next")))
            actor = await signin.with_code(limiter, client_ip(request), phone, code)
        except DomainError as exc:
            return render(request, "login.html", http_status=exc.status, error=problem(request, exc), phone=phone,
                          code_sent=bool(code), next=_next(data.get("next")))
        return await _signed_in_redirect(request, sessions, actor, data.get("next"))

    @post("/logout", status_code=303)
    async def logout(self, request: Request, sessions: NamedDependency[Sessions]) -> Redirect:
        if isinstance(request.auth, Session):
            await sessions.end(request.auth.sid)
        redirect = Redirect("/login", status_code=303)
        redirect.cookies = session_cookies(False)
        return redirect

    @get("/register", public=True)
    async def register_page(self, request: Request,
                            ref: Annotated[str | None, QueryParameter(max_length=fields.REFERRAL_CODE.max_length)] = None,
                            community: Annotated[str | None, QueryParameter(max_length=fields.COMMUNITY_CODE.max_length)] = None
                            ) -> Template:
        """The form; a friend's link fills in their 推荐码 and community (`?ref=…&community=…`)."""
        return render(request, "register.html", data={"referral_code": ref or "", "community": community or ""},
                      errors={}, platforms=members.PLATFORMS, communities=await communities.directory())

    @post("/register", public=True, changes_no_view=True, status_code=303)
    async def register(self, request: Request, limiter: NamedDependency[Limiter],
                       sessions: NamedDependency[Sessions]) -> Redirect | Template:
        data = await signed_out_form(request)
        try:
            actor = await signin.register(limiter, client_ip(request), members.Registration(
                role=str(data.get("role", "")), phone=str(data.get("phone", "")), name=str(data.get("name", "")),
                password=str(data.get("password", "")), community=str(data.get("community", "")),
                platform=data.get("platform") or None, platform_rider_id=data.get("platform_rider_id") or None,
                building=str(data.get("building", "")),
                referral_code=str(data.get("referral_code", "")).strip() or None))
        except DomainError as exc:
            data.pop("password", None)
            return render(request, "register.html", http_status=exc.status, errors=field_errors(request, exc),
                          data=data, platforms=members.PLATFORMS, communities=await communities.directory())
        return await _signed_in_redirect(request, sessions, actor, "/")

    @get("/favicon.ico", public=True, media_type="image/svg+xml", cache_control=CacheControlHeader(max_age=86400))
    async def favicon(self) -> File:
        """What a browser asks every site for: the icon, not a 404 in every log."""
        return File(ICON, media_type="image/svg+xml", content_disposition_type="inline")

    @get("/p/{code:str}/fixed/{photo_id:int}", public=True, media_type="image/jpeg")
    async def fixed_photo(self, code: FromPath[str], photo_id: IdPath, store: NamedDependency[PhotoStore],
                          size: PhotoSize = None) -> Response[bytes]:
        """The photo of a fix on a community's public page (its closed cases only)."""
        try:
            community = await communities.community_by_code(code)
        except DomainError:
            raise NotFound("community") from None
        name = await reading.public_photo_path(community["id"], photo_id)
        return await photo_response(store, name, size)

    @get("/lang/{lang:str}", public=True, status_code=303)
    async def language(self, lang: FromPath[str], next_: Annotated[str | None, QueryParameter(name="next")] = None) -> Redirect:
        redirect = Redirect(_next(next_), status_code=303)
        if lang in i18n.LANGS:
            redirect.cookies = [Cookie(key=i18n.COOKIE, value=lang, path="/", max_age=365 * 86400, samesite="lax")]
        return redirect

    @get("/p/{code:str}", public=True)
    async def scheme(self, request: Request, code: FromPath[str]) -> Template:
        """积分公示: the scheme, the shop's catalogue and last month's honour board of one community."""
        try:
            community = await communities.community_by_code(code)
        except DomainError:
            raise NotFound("community") from None
        rules = await schemes.for_community(community["id"])
        month = honours.previous_month(honours.month_of(rules, clock.now()))
        return render(request, "scheme.html", community=community, rules=rules,
                      fixed=await reading.recently_fixed(community["id"]),
                      rewards=await rewards.public_catalogue(community["id"]),
                      board=await honours.board(rules, community["id"], month), month=month)

