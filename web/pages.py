"""What every page needs: rendering with the visitor's language, user and CSRF token; form helpers."""

from __future__ import annotations

import io
import math
import re
import secrets
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import segno
from litestar import Request
from litestar.datastructures import Cookie
from litestar.exceptions import PermissionDeniedException
from litestar.response import Redirect, Template
from markupsafe import Markup

from points.areas import schemes
from points.errors import DomainError, Invalid, checked, checked_whole
from rules import fields
from rules.fields import Whole
from web import i18n
from web.sessions import CSRF_FIELD, Session

FORM_COOKIE = "jifen_form"


def render(request: Request, template: str, http_status: int = 200, **context: Any) -> Template:
    cookies, values = _page_context(request)
    return Template(template_name=template, status_code=http_status, cookies=cookies, context={**values, **context})


def render_text(request: Request, template: str, **context: Any) -> str:
    """The page as text, to be kept (web/view_cache.py): a signed-in member's, so it sets no cookie."""
    _, values = _page_context(request)
    return request.app.template_engine.get_template(template).render({**values, **context})


def _page_context(request: Request) -> tuple[list[Cookie], dict[str, Any]]:
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
    _ = i18n.translator(lang)
    return cookies, {
        "_": _, "gettext": _, "ngettext": lambda one, many, n, **values: _(one if n == 1 else many, n=n, **values),
        "loc": i18n.localiser(lang), "lang": lang, "user": request.scope.get("user"),
        "csrf": csrf, "csrf_field": CSRF_FIELD, "path": request.url.path,
        "flash": request.query_params.get("done", ""), "qr": qr, "when": when, "span": span,
        "flash_values": {k[2:]: v for k, v in request.query_params.items()
                         if k.startswith("v_") and FLASH_VALUE.fullmatch(v)}}


def when(moment: Any, fmt: str = "%m-%d %H:%M") -> str:
    """A moment as the scheme's clocks show it, to the minute (every time a page shows)."""
    if moment is None:
        return "—"
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    if not isinstance(moment, datetime):  # a day is a day wherever it is read
        return moment.strftime(fmt)
    return schemes.current().local_time(moment).strftime(fmt)


def span(start: Any, end: Any) -> str:
    """From one moment to another, as the scheme's clocks show them: the end's date only when it falls on
    another day ("12-07 08:14–08:44", "12-07 08:14–12-10 08:14")."""
    if start is None or end is None:
        return f"{when(start)}–{when(end)}"
    first, last = (schemes.current().local_time(datetime.fromisoformat(m) if isinstance(m, str) else m)
                   for m in (start, end))
    return f"{when(start)}–{when(end, '%H:%M' if first.date() == last.date() else '%m-%d %H:%M')}"


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


def qr(text: str, fluid: bool = False) -> Markup:
    """A QR code of `text` as inline SVG (a pickup code, for the counter's scanner): a standard QR code
    (never a Micro QR, which WeChat and many scanners do not read), large enough to scan from a phone.
    `fluid`: without a fixed size, so the page's style scales it (the site's check-in code, full screen)."""
    out = io.BytesIO()
    segno.make(text, error="m", micro=False).save(out, kind="svg", scale=8, border=4, xmldecl=False, svgns=True,
                                                 title=text, omitsize=fluid)
    return Markup(out.getvalue().decode())


def problem(request: Request, exc: DomainError) -> str:
    """A domain refusal in the page's language, from its code (never the domain's English message)."""
    return wording(i18n.translator(i18n.choose(request.cookies)), exc.code, exc.extra)


RESERVED = ("code", "field", "message")  # a refusal's own keys, not values its words name
# What a value carried in a page's address may be (a number, a time, a name): short, no link, no markup — the
# address can be made by anyone, so nothing it carries can say much.
FLASH_VALUE = re.compile(r"[\w:\-+ .]{1,40}")


def wording(_: Any, code: str, values: dict[str, Any]) -> str:
    """One error code's words in a catalogue; a code the catalogue lacks reads as the generic refusal."""
    key = f"error.{code}"
    text = _(key, **{k: v for k, v in values.items() if isinstance(v, int | str) and k not in RESERVED})
    return _("error.unknown", code=code) if text == key else text


# The form field beside which a refusal naming an API field is shown.
FIELD_SLOTS = {"lat": "location", "lng": "location", "grid": "location", "location": "location", "units": "item"}


def field_errors(request: Request, exc: DomainError) -> dict[str, list[str]]:
    """Every problem of a refused form, in the page's language, by the form field it belongs beside:
    `{"photos": ["第 2 张照片:…"], "description": [...]}`."""
    _ = i18n.translator(i18n.choose(request.cookies))
    found = exc.extra.get("problems") or [{"code": exc.code, "field": exc.field, **exc.extra}]
    slots: dict[str, list[str]] = {}
    for one in found:
        field = str(one.get("field") or "form")
        words = wording(_, str(one["code"]), one)
        if field.startswith("photos["):  # photos[1] → the second photo
            words = _("error.nth_photo", n=int(field[7:-1]) + 1) + words
            field = "photos"
        slots.setdefault(FIELD_SLOTS.get(field, field), []).append(words)
    return slots


def error_words(request: Request) -> dict[str, str]:
    """Every error message of the page's language, by code, for a page's script to show the API's refusals
    as the server would (placeholders such as {max} are left for the script to fill)."""
    catalogue = i18n.CATALOGUES[i18n.choose(request.cookies)]
    return {key[6:]: text for key, text in catalogue.items() if key.startswith("error.")}


def back(path: str, done: str = "", values: dict[str, Any] | None = None) -> Redirect:
    """After a form post: the next page (post/redirect/get), with what was done (or why it was refused, and the
    values its words name)."""
    query = urlencode({"done": done, **{f"v_{k}": v for k, v in (values or {}).items()}}) if done else ""
    return Redirect(path + (f"?{query}" if query else ""), status_code=303)


async def act(call: Awaitable[Any], path: str | Callable[[], Awaitable[str]], done: str,
              refused: str | None = None) -> Redirect:
    """Run a form's domain call, then go to `path` (or where `path()` says, asked after the call) saying
    `done`, or to `refused` (else `path`) saying why it was refused. A refusal that means "not yours" (403,
    404) is an error page instead."""
    try:
        await call
    except DomainError as exc:
        if exc.status in (403, 404):
            raise
        # The refusal's values ride along with its code, so the page's words say them ({metres}, {retry_after} …).
        values = {k: v for k, v in exc.extra.items() if isinstance(v, int | str) and k not in RESERVED}
        return back(refused or (path if isinstance(path, str) else "/"), f"error.{exc.code}",
                    values)
    return back(path if isinstance(path, str) else await path(), done)


async def form(request: Request) -> dict[str, Any]:
    return dict((await request.form()).items())


def form_ids(values: Any, name: str = "id") -> list[int]:
    """A form's list of object ids (ticked boxes, or one comma-separated field), each a valid id (fields.ID),
    at most 200, in the order given; 400 naming the field for anything else."""
    raw = [str(v) for v in values] if isinstance(values, list) else str(values or "").split(",")
    ids = []
    for one in (r.strip() for r in raw if r.strip()):
        ids.append(checked_whole(fields.ID, name, one))
    if len(ids) > 200:
        raise Invalid("out_of_range", f"at most 200 {name}s at once", field=name, max=200)
    return ids


def form_number(data: Any, name: str, spec: Whole | None = None, kind: type = int) -> Any:
    """A form's number field (None when empty), within its declared range (rules/fields.py)."""
    raw = str(data.get(name) or "").strip()
    if not raw:
        return None
    if kind is int:  # ASCII digits only, within the field's range (or the column's)
        return checked_whole(spec or fields.WHOLE, name, raw)
    try:
        value = kind(raw)
    except ValueError:
        raise Invalid("invalid_number", f"{name} must be a number", field=name) from None
    if kind is float and not math.isfinite(value):
        raise Invalid("invalid_number", f"{name} must be a number", field=name)
    return checked(spec, name, value) if spec is not None else value
