"""Open311 GeoReport v2 at /open311/v2: discovery, services, service definitions, requests (GET and POST),
one request, tokens. The format is the path's suffix, `.json` or `.xml` (XML built with ElementTree, so
every text is escaped); errors come in the spec's shape — `[{"code", "description"}]` or
`<errors><error>…` — with our codes. Filing a request needs `api_key`, an API token an admin issued (it
files as that token's account); reading needs nothing. The use cases are points/cases/open311.py and
web/flows.py's `file_report`, the same as the app's own reports.
"""

from __future__ import annotations

import math
import re
from typing import Any
from xml.etree.ElementTree import Element, SubElement, tostring

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException
from litestar.params import FromPath

from points import scope
from points.areas import schemes
from points.cases import open311
from points.errors import DomainError, Forbidden, Invalid, NotFound, checked_whole
from points.infra.config import Settings
from points.infra.photo_store import PhotoStore
from points.ops.dispatch import Dispatcher
from points.people import tokens
from points.reports.intake import PhotoLimits, Report
from rules import fields
from web.flows import file_report
from web.limits import Limiter

BASE = "/open311/v2"
FORMATS = {"json": "application/json", "xml": "text/xml"}  # litestar adds the charset to text/*
PLURALS = {"attributes": "attribute", "values": "value", "endpoints": "endpoint", "formats": "format",
           "jurisdictions": "jurisdiction"}


def _split(name: str) -> tuple[str, str]:
    stem, _, fmt = name.rpartition(".")
    if not stem or fmt not in FORMATS:
        raise NotFound("resource (end the path in .json or .xml)")
    return stem, fmt


def _put(parent: Element, key: str, value: Any) -> None:
    child = SubElement(parent, key)
    if isinstance(value, list):
        for entry in value:
            if isinstance(entry, dict):
                _fill(SubElement(child, PLURALS.get(key, key)), entry)
            else:
                SubElement(child, PLURALS.get(key, key)).text = _text(entry)
    elif isinstance(value, dict):
        _fill(child, value)
    else:
        child.text = _text(value)


def _fill(element: Element, fields: dict[str, Any]) -> None:
    for key, value in fields.items():
        _put(element, key, value)


# What XML 1.0 cannot carry at all: taken out of any text written (fields refuse it at the door; this is for
# whatever came in before, or from elsewhere).
NOT_XML = re.compile("[^\x09\x0a\x0d\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return NOT_XML.sub("", str(value))


def reply(data: Any, fmt: str, root: str, item: str | None = None, status: int = 200) -> Response[bytes]:
    """`data` (a list of `item`s, or one object) as JSON, or as XML under `root`."""
    if fmt == "json":
        return Response(data, status_code=status, media_type=FORMATS["json"])
    element = Element(root)
    if item is None:
        _fill(element, data)
    else:
        for entry in data:
            _fill(SubElement(element, item), entry)
    body = b'<?xml version="1.0" encoding="utf-8"?>\n' + tostring(element, encoding="unicode").encode()
    return Response(body, status_code=status, media_type=FORMATS["xml"])


def _format_of(request: Request) -> str:
    return "xml" if request.url.path.endswith(".xml") else "json"


def open311_error(request: Request, exc: Exception) -> Response[bytes]:
    if isinstance(exc, DomainError):
        status, errors = exc.status, [{"code": exc.code, "description": exc.message}]
        errors += [{"code": p["code"], "description": p["message"]} for p in exc.extra.get("problems", [])[1:]]
    else:
        status = exc.status_code if isinstance(exc, HTTPException) else 400
        errors = [{"code": "invalid_input" if status == 400 else "error", "description": str(exc.detail)}]
    return reply(errors, _format_of(request), "errors", "error", status=status)


def _lang(request: Request) -> str:
    return "en" if request.headers.get("accept-language", "").lower().startswith("en") else "zh"


def _number(form: dict[str, Any], field: str) -> float | None:
    value = str(form.get(field) or "").strip()
    if not value:
        return None
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not math.isfinite(number):
        raise Invalid("invalid_number", f"{field}: a number", field=field)
    return number


class Open311Controller(Controller):
    path = BASE
    tags = ["open311"]
    include_in_schema = False  # the spec documents it (docs/api.md: "Open311")
    exception_handlers = {DomainError: open311_error, HTTPException: open311_error}
    opt = {"public": True, "own_auth": True}  # reads are open; filing checks its api_key itself

    @get("/{name:str}")
    async def listing(self, request: Request, name: FromPath[str]) -> Response[bytes]:
        stem, fmt = _split(name)
        if stem == "discovery":
            base = str(request.base_url).rstrip("/") + BASE
            return reply({"changeset": "2026-11-30T00:00:00Z", "contact": "", "key_service": "",
                          "endpoints": [{"specification": open311.SPEC, "url": base,
                                         "changeset": "2026-11-30T00:00:00Z", "type": "production",
                                         "formats": ["text/xml", "application/json"]}],
                          # beyond the spec: the ids `jurisdiction_id` takes, which a server of several needs
                          "jurisdictions": await open311.jurisdictions(_lang(request))}, fmt, "discovery")
        community = await open311.jurisdiction(request.query_params.get("jurisdiction_id"))
        rules = await schemes.for_community(community["id"])
        if stem == "services":
            return reply(open311.services(rules, _lang(request)), fmt, "services", "service")
        if stem == "requests":
            q = request.query_params
            rows = await open311.query(
                community["id"], rules, _lang(request), ids=q.get("service_request_id", ""),
                codes=q.get("service_code", ""), start=q.get("start_date", ""), end=q.get("end_date", ""),
                status=q.get("status", ""), page=q.get("page", ""), page_size=q.get("page_size", ""))
            return reply(rows, fmt, "service_requests", "request")
        raise NotFound("resource")

    @get("/services/{name:str}")
    async def service_definition(self, request: Request, name: FromPath[str]) -> Response[bytes]:
        code, fmt = _split(name)
        community = await open311.jurisdiction(request.query_params.get("jurisdiction_id"))
        rules = await schemes.for_community(community["id"])
        return reply(open311.definition(rules, code, _lang(request)), fmt, "service_definition")

    @get("/requests/{name:str}")
    async def service_request(self, request: Request, name: FromPath[str]) -> Response[bytes]:
        request_id, fmt = _split(name)
        community = await open311.jurisdiction(request.query_params.get("jurisdiction_id"))
        rules = await schemes.for_community(community["id"])
        return reply([await open311.one(community["id"], rules, _lang(request), request_id)], fmt,
                     "service_requests", "request")

    @get("/tokens/{name:str}")
    async def token(self, request: Request, name: FromPath[str]) -> Response[bytes]:
        """Every service is realtime: a request's id comes back at once, and its token is that id."""
        token, fmt = _split(name)
        community = await open311.jurisdiction(request.query_params.get("jurisdiction_id"))
        rules = await schemes.for_community(community["id"])
        found = await open311.one(community["id"], rules, _lang(request), token)
        return reply([{"service_request_id": found["service_request_id"], "token": token}], fmt,
                     "service_requests", "request")

    @post("/{name:str}", status_code=201)
    async def file(self, request: Request, name: FromPath[str], settings: NamedDependency[Settings],
                   store: NamedDependency[PhotoStore], limits: NamedDependency[PhotoLimits],
                   dispatcher: NamedDependency[Dispatcher], limiter: NamedDependency[Limiter]) -> Response[bytes]:
        stem, fmt = _split(name)
        if stem != "requests":
            raise NotFound("resource")
        form = {**dict(request.query_params), **dict((await request.form()).items())}
        actor = await tokens.actor_for(str(form.get("api_key") or "")) if form.get("api_key") else None
        if actor is None:
            raise Forbidden("invalid_api_key", "api_key: an API token an admin issued, not revoked", field="api_key")
        community = await open311.jurisdiction(str(form.get("jurisdiction_id") or "") or None)
        scope.filer(actor, community)
        rules = await schemes.for_community(community["id"])
        code = str(form.get("service_code") or "")
        if not code:
            raise Invalid("service_code_required", "service_code is required", field="service_code")
        try:
            item = open311.reportable(rules, code)
        except NotFound:
            raise Invalid("unknown_service", f"service_code: {code!r} is not a service here", field="service_code") from None
        lat, lng = _number(form, "lat"), _number(form, "long")
        address = str(form.get("address_string") or "").strip()
        if lat is None and lng is None and not address:
            raise Invalid("location_required", "give lat and long (or address_string)", field="lat")
        units = checked_whole(fields.UNITS, "attribute[units]", form.get("attribute[units]") or "1")
        uploads = []
        if form.get("media_url"):
            uploads = [await open311.fetch_media(str(form["media_url"]), settings.open311_media_hosts, limits.max_bytes)]
        report = Report(item=item.id, description=str(form.get("description") or ""), lat=lat, lng=lng,
                        address=address[:200], units=units)
        view, _ = await file_report(request, limiter, dispatcher, rules, store, limits, report, uploads, None,
                                    actor=actor)
        return reply([{"service_request_id": str(view["id"]), "service_notice": "", "account_id": None}], fmt,
                     "service_requests", "request", status=201)
