"""Who is calling, and may they: sessions, API tokens, CSRF and role guards.

Every request passes `AuthMiddleware`: an ``Authorization: Bearer`` API token
(machine clients) or the session cookie (people) names the actor; anyone else
is anonymous (``request.user`` is None). A cookie-authenticated unsafe request
must carry its session's CSRF token, in the ``X-CSRF-Token`` header or the
``_csrf_token`` form field; bearer requests need none (no browser sends them
on its own).

Every route needs a signed-in actor unless its handler says ``public=True``
(the app-wide `signed_in` guard); controllers add role guards on top. Which
objects an actor may touch is the domain's business (points/scope.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.datastructures import State
from litestar.enums import RequestEncodingType, ScopeType
from litestar.exceptions import ClientException, NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send

from points.people import members, tokens
from points.scope import Actor
from points.vocabulary import REPORTER_ROLES, STAFF_ROLES, Role
from web.sessions import CSRF_FIELD, CSRF_HEADER, SAFE_METHODS, Session, Sessions, csrf_ok, session_id

if TYPE_CHECKING:
    from web.view_cache import ViewCache


class AuthMiddleware(ASGIMiddleware):
    scopes = (ScopeType.HTTP,)
    exclude_opt_key = "own_auth"  # a route that checks its caller itself (/metrics: a scraper's token) or needs none

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        request: Request = scope["litestar_app"].request_class(scope=scope, receive=receive)
        scope["user"], scope["auth"] = None, None
        header = request.headers.get("authorization", "")
        if header:
            kind, _, token = header.partition(" ")
            actor = await tokens.actor_for(token.strip()) if kind.lower() == "bearer" and token.strip() else None
            if actor is None:
                raise NotAuthorizedException("this API token is not valid (revoked, or never issued)")
            scope["user"] = actor
        elif sid := session_id(request.cookies):
            session, actor = await _signed_in_as(scope["litestar_app"].state, sid)
            if actor is not None:
                if request.method not in SAFE_METHODS and not csrf_ok(session, await _csrf_token(request)):
                    raise PermissionDeniedException("CSRF token missing or wrong: send the session's token in "
                                                    "the X-CSRF-Token header or the _csrf_token form field")
                scope["user"], scope["auth"] = actor, session
        if scope["user"] is None and request.method not in SAFE_METHODS and scope["path"].startswith("/api/") \
                and scope["route_handler"].opt.get("public") and request.content_type[0] != "application/json":
            # The API's public posts (login, registration, codes) take only JSON: a cross-site form cannot send
            # it without a CORS preflight (none is allowed), so no other site can post them from a browser.
            raise ClientException("send the body as application/json", status_code=415)
        await next_app(scope, receive, send)


async def _signed_in_as(state: State, sid: str) -> tuple[Session | None, Actor | None]:
    """The session and member behind a cookie: kept in this process while nothing in the member's community
    changed (web/view_cache.py), else read from the session store and the database."""
    sessions: Sessions = state.sessions
    views: ViewCache = state.views
    key = ("session", sid)
    kept = views.peek(key)
    if kept is not None:
        session, actor = kept
        if await sessions.keep_alive(session):
            return session, actor
        views.drop(key)
        return None, None
    mark = views.mark()
    session = await sessions.load(sid)
    actor = await members.session_actor(session.member_id, session.epoch) if session else None
    if session and actor is None:
        await sessions.end(sid)  # a role change or deletion since ended it
    if actor is not None:
        views.keep(key, (session, actor), actor.community_id, mark)
    return session, actor


async def _csrf_token(request: Request) -> str | None:
    token = request.headers.get(CSRF_HEADER)
    if token is None and request.content_type[0] in (RequestEncodingType.URL_ENCODED, RequestEncodingType.MULTI_PART):
        token = (await request.form()).get(CSRF_FIELD)  # litestar keeps the parsed form for the handler
    return token


# Guards are coroutines: litestar runs a plain function guard in a worker thread, a hop every request pays.
async def signed_in(connection: ASGIConnection, handler: BaseRouteHandler) -> None:
    if handler.opt.get("public") or connection.url.path.startswith("/schema"):
        return
    if connection.user is None:
        raise NotAuthorizedException("log in first")


def requires_role(*roles: str):
    async def guard(connection: ASGIConnection, handler: BaseRouteHandler) -> None:
        await signed_in(connection, handler)
        if connection.user.role not in roles:
            raise PermissionDeniedException(f"only {', '.join(roles)} can do this")

    return guard


staff_only = requires_role(*STAFF_ROLES)
admin_only = requires_role(Role.ADMIN)
reporters_only = requires_role(*REPORTER_ROLES)
handlers_only = requires_role(Role.HANDLER)
