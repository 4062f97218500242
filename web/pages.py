"""What every page needs: rendering with the visitor's language, user and CSRF token; form helpers."""

from __future__ import annotations

import io
import math
import secrets
from collections.abc import Awaitable
from typing import Any

import segno
from litestar import Request
from litestar.datastructures import Cookie
from litestar.exceptions import PermissionDeniedException
from litestar.response import Redirect, Template
from markupsafe import Markup

from points.errors import DomainError, Invalid, checked
from rules.fields import Whole
from web import i18n
from web.sessions import CSRF_FIELD, Session

FORM_COOKIE = "jifen_form"


def render(request: Request, template: str, http_status: int = 200, **context: Any) -> Template:
    lang = i18n.choose(request.cookies)
    # An unknown path is answered before the auth middleware runs: no user or session in its scope.
    session = request.scope.get("auth")
    session = session if isinstance(session, Session) else None
    cookies = []
    if session:
        csrf = session.csrf
    else:  # a visitor not signed in: their forms (log in, register) carry a token of a cookie of their own
        csrf = request.cookies.get(FORM_COOKIE) or secrets.token_urlsafe(32)
        if csrf != request.cookies.get(FORM_COOKIE):
            cookies.append(Cookie(key=FORM_COOKIE, value=csrf, path="/", httponly=True, samesite="lax"))
    return Template(template_name=template, status_code=http_status, cookies=cookies, context={
        "_": i18n.translator(lang), "loc": i18n.localiser(lang), "lang": lang, "user": request.scope.get("user"),
        "csrf": csrf, "csrf_field": CSRF_FIELD, "path": request.url.path,
        "flash": request.query_params.get("done", ""), "qr": qr, **context})


async def signed_out_form(request: Request) -> dict[str, Any]:
    """The form of a visitor not yet signed in, if it carries the token of their own form cookie (no login
    CSRF: another site cannot sign a browser into someone else's account)."""
    data = await form(request)
    if isinstance(request.scope.get("auth"), Session):
        return data  # signed in already: the middleware checked the session's own token
    expected = request.cookies.get(FORM_COOKIE)
    if not expected or not secrets.compare_digest(str(data.get(CSRF_FIELD, "")), expected):
        raise PermissionDeniedException("the form has expired: reload the page and try again")
    return data


def qr(text: str) -> Markup:
    """A QR code of `text` as inline SVG (a pickup code, for the counter's scanner)."""
    out = io.BytesIO()
    segno.make(text, error="m").save(out, kind="svg", scale=5, xmldecl=False, svgns=True, title=text)
    return Markup(out.getvalue().decode())


def problem(request: Request, exc: DomainError) -> str:
    """A domain refusal in the page's language: a known code's wording, else the domain's own message."""
    _ = i18n.translator(i18n.choose(request.cookies))
    text = _(f"error.{exc.code}")
    return exc.message if text == f"error.{exc.code}" else text


def back(path: str, done: str = "") -> Redirect:
    """After a successful form post: the next page (post/redirect/get), with what was done."""
    return Redirect(path + (f"?done={done}" if done else ""), status_code=303)


async def act(call: Awaitable[Any], path: str, done: str, refused: str | None = None) -> Redirect:
    """Run a form's domain call, then go to `path` saying `done`, or to `refused` (else `path`) saying why
    it was refused. A refusal that means "not yours" (403, 404) is an error page instead."""
    try:
        await call
    except DomainError as exc:
        if exc.status in (403, 404):
            raise
        return back(refused or path, f"error.{exc.code}")
    return back(path, done)


async def form(request: Request) -> dict[str, Any]:
    return dict((await request.form()).items())


def form_number(data: Any, name: str, spec: Whole | None = None, kind: type = int) -> Any:
    """A form's number field (None when empty), within its declared range (rules/fields.py)."""
    raw = str(data.get(name) or "").strip()
    if not raw:
        return None
    try:
        value = kind(raw)
    except ValueError:
        raise Invalid("invalid_number", f"{name} must be a number", field=name) from None
    if kind is float and not math.isfinite(value):
        raise Invalid("invalid_number", f"{name} must be a number", field=name)
    return checked(spec, name, value) if spec is not None else value
