"""The input rules every request meets before any handler: no NUL or control character in the path, the
query, a form field or a JSON string (rules/fields.py: no text anywhere holds one), no path part longer than
a file name may be, and JSON nested no deeper than any request of ours is. A request that breaks one is answered 400 naming the field; nothing runs.

Reading the body here costs nothing extra: litestar keeps the body and the parsed form for the handler.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl

from litestar import Request
from litestar.enums import RequestEncodingType, ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send

from points.errors import Invalid

MAX_JSON_DEPTH = 32
MAX_SEGMENT = 255  # a file name's limit: no path of ours has a longer part
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# An escaped control character in a JSON string (\\u0000 …; an odd run of backslashes is an escape), and the key of
# the string it stands in.
JSON_ESCAPE = re.compile(rb'(\\+)u00([01][0-9a-fA-F]|7[fF])')
KEY_BEFORE = re.compile(rb'"([^"\\]{1,64})"\s*:\s*"[^"]*$')
ALLOWED_ESCAPES = (b"09", b"0a", b"0d")  # tab and line breaks, as multi-line texts hold


def _bad(field: str) -> Invalid:
    return Invalid("invalid_text", f"{field} must not contain NUL or control characters", field=field)


def check_path_and_query(path: str, query: bytes) -> None:
    if CONTROL.search(path):
        raise _bad("path")
    if any(len(part) > MAX_SEGMENT for part in path.split("/")):
        raise Invalid("too_long", f"path: a part of it is longer than {MAX_SEGMENT} characters", field="path")
    for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
        if CONTROL.search(name) or CONTROL.search(value):
            raise _bad(name if not CONTROL.search(name) else "query")


def check_json(body: bytes) -> None:
    if b"\x00" in body:
        raise _bad("body")
    for match in JSON_ESCAPE.finditer(body):
        if len(match.group(1)) % 2 and match.group(2).lower() not in ALLOWED_ESCAPES:
            key = KEY_BEFORE.search(body, 0, match.start())
            raise _bad(key.group(1).decode(errors="replace") if key else "body")
    if body.count(b"[") + body.count(b"{") <= MAX_JSON_DEPTH:
        return
    depth = deepest = 0
    for char in re.sub(rb'"(?:[^"\\]|\\.)*"', b"", body):  # nesting outside strings
        if char in b"[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in b"]}":
            depth -= 1
    if deepest > MAX_JSON_DEPTH:
        raise Invalid("too_deep", f"JSON nested more than {MAX_JSON_DEPTH} levels deep", field="body")


def check_form(form: dict[str, object]) -> None:
    for name, value in form.items():
        if CONTROL.search(name):
            raise _bad("form")
        if isinstance(value, str) and CONTROL.search(value):
            raise _bad(name)


class InputGuard(ASGIMiddleware):
    scopes = (ScopeType.HTTP,)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        check_path_and_query(scope["path"], scope.get("query_string", b""))
        if scope["method"] not in ("GET", "HEAD", "OPTIONS"):
            request: Request = scope["litestar_app"].request_class(scope=scope, receive=receive)
            kind = request.content_type[0]
            if kind == "application/json":
                check_json(await request.body())
            elif kind in (RequestEncodingType.URL_ENCODED, RequestEncodingType.MULTI_PART):
                try:
                    form = await request.form()
                except UnicodeDecodeError:  # a part without a file name is text, and this one is not
                    raise Invalid("invalid_text", "a form field that is not text (send files with a file name)",
                                  field="form") from None
                check_form({k: v for k, v in form.multi_items()})
        await next_app(scope, receive, send)
