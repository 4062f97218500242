"""What every page needs: rendering with the visitor's language, user and CSRF token; form helpers."""

from __future__ import annotations

import io
from collections.abc import Awaitable
from typing import Any

import segno
from litestar import Request
from litestar.response import Redirect, Template
from markupsafe import Markup

from points.errors import DomainError
from web import i18n
from web.sessions import CSRF_FIELD, Session


def render(request: Request, template: str, http_status: int = 200, **context: Any) -> Template:
    lang = i18n.choose(request.cookies)
    # An unknown path is answered before the auth middleware runs: no user or session in its scope.
    session = request.scope.get("auth")
    session = session if isinstance(session, Session) else None
    return Template(template_name=template, status_code=http_status, context={
        "_": i18n.translator(lang), "loc": i18n.localiser(lang), "lang": lang, "user": request.scope.get("user"),
        "csrf": session.csrf if session else "", "csrf_field": CSRF_FIELD, "path": request.url.path,
        "flash": request.query_params.get("done", ""), "qr": qr, **context})


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
