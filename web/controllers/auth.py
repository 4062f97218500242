"""Registration, login (password or SMS code), the current session, logout.

Logging in sets an HttpOnly session cookie and answers the session's CSRF
token; every later change (POST, PUT, …) sends that token back.
"""

from __future__ import annotations

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody

from points.infra.config import Settings
from points.infra.sms import Sender
from points.people import members, otp
from points.scope import Actor
from web import signin
from web.limits import Limiter, client_ip
from web.schemas.accounts import CodeIn, CodeLoginIn, CodeSent, LoginIn, Profile, RegisterIn, SessionOut
from web.sessions import Session, Sessions, session_cookies


async def _session_out(session: Session | None, actor: Actor | None) -> SessionOut:
    if session is None or actor is None:
        return SessionOut(member=None, csrf_token=None, expires_in_seconds=None)
    return SessionOut(member=Profile(**await members.profile(actor)), csrf_token=session.csrf,
                      expires_in_seconds=session.absolute)


async def sign_in(request: Request, sessions: Sessions, actor: Actor, status_code: int = 200) -> Response[SessionOut]:
    session, cookies = await signin.start_session(request, sessions, actor)
    return Response(await _session_out(session, actor), cookies=cookies, status_code=status_code)


class AuthController(Controller):
    path = "/api/v1/auth"
    tags = ["auth"]

    @post("/register", operation_id="register", public=True, changes_no_view=True, status_code=201)
    async def register(self, request: Request, limiter: NamedDependency[Limiter], sessions: NamedDependency[Sessions],
                       data: JSONBody[RegisterIn]) -> Response[SessionOut]:
        actor = await signin.register(limiter, client_ip(request), members.Registration(
            role=data.role, phone=data.phone, name=data.name, password=data.password, community=data.community,
            platform=data.platform, platform_rider_id=data.platform_rider_id, building=data.building,
            referral_code=data.referral_code))
        return await sign_in(request, sessions, actor, status_code=201)

    @post("/login", operation_id="login", public=True, changes_no_view=True, status_code=200)
    async def login(self, request: Request, limiter: NamedDependency[Limiter], sessions: NamedDependency[Sessions],
                    data: JSONBody[LoginIn]) -> Response[SessionOut]:
        actor = await signin.with_password(limiter, client_ip(request), data.phone, data.password)
        return await sign_in(request, sessions, actor)

    @post("/code", operation_id="requestLoginCode", public=True, changes_no_view=True, status_code=202)
    async def request_code(self, request: Request, limiter: NamedDependency[Limiter], sender: NamedDependency[Sender],
                           settings: NamedDependency[Settings], data: JSONBody[CodeIn]) -> CodeSent:
        """Send a login code by SMS. The answer is the same whether or not the number is a member's."""
        await signin.send_code(limiter, client_ip(request), data.phone, sender)
        return CodeSent(sent=True, expires_in_seconds=int(otp.LIFETIME.total_seconds()),
                        resend_after_seconds=settings.rate_limits["code_phone"][1])

    @post("/login/code", operation_id="loginWithCode", public=True, changes_no_view=True,
          status_code=200)
    async def login_code(self, request: Request, limiter: NamedDependency[Limiter], sessions: NamedDependency[Sessions],
                         data: JSONBody[CodeLoginIn]) -> Response[SessionOut]:
        actor = await signin.with_code(limiter, client_ip(request), data.phone, data.code)
        return await sign_in(request, sessions, actor)

    @get("/session", operation_id="session", public=True)
    async def session(self, request: Request) -> SessionOut:
        """Who this session is and its CSRF token (all null when not logged in)."""
        return await _session_out(request.auth if isinstance(request.auth, Session) else None,
                                  request.user)

    @post("/logout", operation_id="logout", status_code=204)
    async def logout(self, request: Request, sessions: NamedDependency[Sessions]) -> Response[None]:
        if isinstance(request.auth, Session):
            await sessions.end(request.auth.sid)
        return Response(None, status_code=204, cookies=session_cookies(False))
