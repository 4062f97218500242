"""Every error answers JSON: {"error": {"code", "message", "field"}}; never a bare 500 page."""

from __future__ import annotations

import logging
import re
from urllib.parse import quote

from litestar import Request, Response
from litestar.exceptions import HTTPException, InternalServerException, ValidationException
from litestar.response import Redirect
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from points.errors import DomainError
from points.infra.db import Unavailable, connection_lost, storage_full

log = logging.getLogger("jifen.web")

RETRY_AFTER_S = 5
STORAGE_RETRY_AFTER_S = 60  # space comes back when an operator frees it, not in seconds
HTTP_CODES = {400: "bad_request", 401: "not_authenticated", 403: "forbidden", 404: "not_found",
              405: "method_not_allowed", 413: "too_large", 415: "unsupported_media_type", 429: "too_many_requests"}


def _body(code: str, message: str, field: str | None = None, **extra) -> dict:
    return {"error": {"code": code, "message": message, "field": field, **extra}}


def _is_page(request: Request) -> bool:
    return not request.url.path.startswith(("/api/", "/schema", "/healthz", "/static/"))


def _page_error(request: Request, status: int, message: str) -> Response:
    """A page's error: to the login page when signed out, else an error page in the visitor's language."""
    from web.pages import render

    if status == 401:
        return Redirect(f"/login?next={quote(request.url.path)}", status_code=303)
    return render(request, "error.html", http_status=status, status=status, message=message)


def domain_error(request: Request, exc: DomainError) -> Response:
    if _is_page(request):
        from web.pages import problem

        return _page_error(request, exc.status, problem(request, exc))
    headers = {"Retry-After": str(exc.extra["retry_after"])} if "retry_after" in exc.extra else None
    return Response(_body(exc.code, exc.message, exc.field, **exc.extra), status_code=exc.status, headers=headers)


def validation_error(request: Request, exc: ValidationException) -> Response:
    extra = exc.extra if isinstance(exc.extra, list) else []
    first = extra[0] if extra and isinstance(extra[0], dict) else {}
    field = first.get("key")
    if _is_page(request):  # a page's bad link or filter: an error page in the visitor's language, never JSON
        from web import i18n

        words = i18n.translator(i18n.choose(request.cookies))("error.invalid_field", field=field or "?")
        return _page_error(request, 400, words)
    if field and first.get("source") == "header":  # litestar names the handler's argument; callers know the header
        field = "-".join(part.capitalize() for part in field.split("_"))
    message = first.get("message") or exc.detail
    missing = re.search(r"Missing required \w+ parameter '([^']+)'", message)
    if missing and not field:
        field = missing.group(1)
        message = "is required"
    unknown = re.search(r"unknown field `([^`]+)`", message)
    if unknown:  # msgspec names the whole body; the member needs the field
        field, message = unknown.group(1), "is not a field of this request"
    absent = re.search(r"missing required field `([^`]+)`", message)
    if absent:  # likewise a required field left out
        field, message = absent.group(1), "is required"
    return Response(_body("invalid_input", f"{field}: {message}" if field else message, field), status_code=400)


def http_error(request: Request, exc: HTTPException) -> Response:
    if exc.status_code >= 500:
        return internal_error(request, exc)
    if _is_page(request):
        return _page_error(request, exc.status_code, "")  # the page says it in the visitor's language
    code = HTTP_CODES.get(exc.status_code, "error")
    # litestar's own 400s are a body it could not parse (malformed JSON or multipart)
    field = "body" if exc.status_code == 400 else None
    return Response(_body(code, exc.detail, field), status_code=exc.status_code, headers=exc.headers)


def unavailable(request: Request, exc: Exception) -> Response:
    """A dependency that is down (the database, Redis): 503 with Retry-After, never a 500."""
    what = exc.what if isinstance(exc, Unavailable) else (
        "Redis" if isinstance(exc, RedisError) else "the database")
    log.warning("%s is not answering: %s on %s %s", what, type(exc).__name__, request.method, request.url.path)
    if _is_page(request):
        from web.pages import render

        response = render(request, "error.html", http_status=503, status=503, message="")
        response.headers["Retry-After"] = str(RETRY_AFTER_S)
        return response
    return Response(_body("service_unavailable", f"{what} is not answering just now; try again in a few seconds"),
                    status_code=503, headers={"Retry-After": str(RETRY_AFTER_S)})


def storage_unavailable(request: Request, exc: Exception) -> Response:
    """The disk is full: 503 with Retry-After, saying that nothing was saved (never a 500)."""
    log.warning("storage is full: %s on %s %s", type(exc).__name__, request.method, request.url.path)
    if _is_page(request):
        from web.pages import render

        response = render(request, "error.html", http_status=503, status=503, message="", storage=True)
        response.headers["Retry-After"] = str(STORAGE_RETRY_AFTER_S)
        return response
    return Response(_body("storage_unavailable", "storage is unavailable just now, so nothing was saved; "
                          "try again in a minute"), status_code=503,
                    headers={"Retry-After": str(STORAGE_RETRY_AFTER_S)})


def internal_error(request: Request, exc: Exception) -> Response:
    if isinstance(exc, RecursionError):  # a body nested past what a decoder follows: the caller's mistake
        return Response(_body("too_deep", "the body is nested too deeply", "body"), status_code=400)
    if connection_lost(exc):
        return unavailable(request, exc)
    if storage_full(exc):
        return storage_unavailable(request, exc)
    if isinstance(exc, InternalServerException) and exc.detail == "client disconnected prematurely":
        # litestar's word for a phone that gave up mid-upload: nothing of ours failed, no one hears the answer
        log.info("client left during %s %s", request.method, request.url.path)
        return Response(_body("client_disconnected", exc.detail), status_code=400)
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    if _is_page(request):
        return _page_error(request, 500, "")
    return Response(_body("internal_error", "something went wrong on our side; please try again"),
                    status_code=HTTP_500_INTERNAL_SERVER_ERROR)


HANDLERS = {
    Unavailable: unavailable,
    RedisConnectionError: unavailable,
    RedisTimeoutError: unavailable,
    DomainError: domain_error,
    ValidationException: validation_error,
    HTTPException: http_error,
    Exception: internal_error,
}
