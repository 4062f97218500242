"""Malformed input at every route of the app (API and pages), as an attacker sends it: never a 5xx.

Routes come from the app itself, request bodies from its OpenAPI schema: each field of a valid-looking body
is broken in turn (NUL and control characters, over-long text, integers past the column, wrong types), path
ids are pushed past INTEGER, query parameters out of range, JSON nested 10,000 deep, and page forms carry
the same poison in every field. Each request is sent as an admin and as a rider (a route that may end its
session gets a fresh one, so it does not hide the others). The API's 400s name the field.
"""

from __future__ import annotations

import copy
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from conftest import Api, User, run, signed_in
from points.infra.db import sql
from points.people import members

BAD_INTS = [2_147_483_648, 9_223_372_036_854_775_808, -1, 0, 1.5, "12", None]
BAD_TEXTS = ["a\u0000b", "a\u0001b", "x" * 10_000, "", 7, ["list"], {"o": 1}, "a\ufffeb", "a\ud800b"]
BAD_MOMENTS = ["0001-01-01T00:00:00Z", "9999-12-31T23:59:59-12:00", "2026-12-04T18:00:00", "2026-02-30T00:00:00Z"]
PATH_INTS = ["2147483648", "9223372036854775808", "-1", "0", "1e3", "²", "١٢", "1" * 25]
PATH_TEXTS = ["%00", "a%00b", "x" * 300, "%01", "..%2f..%2fetc", "%C2%B2.json", "9" * 25 + ".json", "requests.json"]
QUERY = ["limit=100000", "limit=0", "limit=-1", "offset=-1", "offset=9223372036854775808",
         "before=9223372036854775808", "before=-1", "since=0001-01-01", "until=9999-12-31", "since=2026-02-30",
         "month=%00", "month=0000-00", "status=%00", "community=2147483648", "actor=-5", "action=" + "x" * 5000,
         "next=%00", "category=%01", "grid=" + "g" * 3000, "since=2026-11-01T00:00:00", "until=notadate"]
OPEN311_QUERY = [  # Open311's reads only (sent with the community as jurisdiction_id)
    "page=1e400", "page=nan", "page_size=nan", "page_size=-1", "page=²", "page_size=" + "9" * 30,
    "start_date=0001-01-01T00:00:00Z", "end_date=0001-01-01T00:00:00Z", "end_date=9999-12-31T23:59:59-12:00",
    "service_request_id=²", "service_request_id=" + "9" * 25, "service_request_id=1,%C2%B2"]
FORM_FIELDS = ["phone", "password", "code", "name", "role", "community", "platform", "platform_rider_id", "building",
               "item", "description", "lat", "lng", "grid", "address", "units", "reason", "note", "quantity", "price",
               "limit_count", "limit_period", "id", "name_zh", "name_en", "kind", "roles", "board_name",
               "community_id", "idempotency_key", "active", "next", "fixed"]
ENDS_SESSION = ("logout", "delete")  # the routes that may end the caller's session
FORM_VALUES = ["a\x00b", "x" * 10_000, "9223372036854775808", "-2147483649", "nan", "inf", "1e400", "\x01", "²",
               "1" * 25, "a\ufffeb", "0001-01-01T00:00"]


def routes() -> list[tuple[str, str]]:
    from points.infra.config import settings
    from web.app import create_app

    app = create_app(settings())
    found = []
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            for method in handler.http_methods:
                if method not in ("OPTIONS", "HEAD") and not route.path.startswith("/schema"):
                    found.append((method, route.path))
    return sorted(set(found))


def paths(template: str) -> list[str]:
    """The template with each parameter filled in badly (one at a time) or plainly."""
    params = re.findall(r"\{(\w+):(\w+)\}", template)
    plain = {"int": "1", "str": "x", "path": "style.css"}
    if not params:
        return [template]
    out = []
    for n, (_, kind) in enumerate(params):
        bad = PATH_INTS if kind == "int" else PATH_TEXTS + (["style.css%00.py", "%2e%2e/app.py"] if kind == "path"
                                                             else [])
        for value in bad:
            path = template
            for m, (other, other_kind) in enumerate(params):
                path = path.replace(f"{{{other}:{other_kind}}}", value if m == n else plain[other_kind])
            out.append(path)
    return out


def multipart(spec: dict[str, Any], method: str, path: str) -> bool:
    operation = spec["paths"].get(re.sub(r"\{(\w+):\w+\}", r"{\1}", path), {}).get(method.lower(), {})
    return "multipart/form-data" in operation.get("requestBody", {}).get("content", {})


def schema_bodies(spec: dict[str, Any], method: str, path: str) -> list[Any]:
    """A valid-looking JSON body for the operation, and that body with each field broken in turn."""
    openapi_path = re.sub(r"\{(\w+):\w+\}", r"{\1}", path)
    operation = spec["paths"].get(openapi_path, {}).get(method.lower(), {})
    content = operation.get("requestBody", {}).get("content", {})
    schema = content.get("application/json", {}).get("schema")
    if not schema:
        return [{}, [], "x"] if content else []

    def resolve(s: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in s:
            s = spec["components"]["schemas"][s["$ref"].rsplit("/", 1)[1]]
        if "oneOf" in s:
            s = next((resolve(o) for o in s["oneOf"] if o.get("type") != "null"), s)
        return s

    root = resolve(schema)
    props = root.get("properties", {})

    def sample(s: dict[str, Any]) -> Any:
        s = resolve(s)
        kind = s.get("type")
        if "enum" in s:
            return s["enum"][0]
        if s.get("format") == "date-time":
            return "2026-12-04T18:00:00+08:00"
        return {"integer": 1, "number": 1.0, "boolean": True, "string": "x" * max(1, s.get("minLength", 1)),
                "array": [], "object": {}}.get(kind, "x")

    valid = {name: sample(s) for name, s in props.items()}
    bodies: list[Any] = [valid, "[" * 10_000 + "]" * 10_000, {"unknown_field": 1}]
    for name, s in props.items():
        kind, moment = resolve(s).get("type"), resolve(s).get("format") == "date-time"
        for value in (BAD_INTS if kind in ("integer", "number") else BAD_MOMENTS + BAD_TEXTS if moment else BAD_TEXTS):
            body = copy.deepcopy(valid)
            body[name] = value
            bodies.append(body)
    if not props:  # a free-form body (the reward editor): every field it knows, each broken
        for name in ("code", "name_zh", "name_en", "kind", "price", "stock", "description", "image", "roles",
                     "limit", "available_from", "active"):
            for value in BAD_INTS + BAD_TEXTS:
                bodies.append({"code": "r.x", "name_zh": "x", "name_en": "x", "kind": "goods", "price": 1, "stock": 1,
                               name: value})
    return bodies


def test_no_malformed_input_gets_a_server_error(api, community):
    import json

    admin_phone = "+8613" + str(community.id).zfill(9)[-9:]
    admin_id = run(members.create_member(community.id, "admin", "fuzz-admin", admin_phone, "fuzz-password-1"))
    spec = api.get("/schema/openapi.json").json()
    code = run(sql("SELECT code FROM community WHERE id = {}", community.id))[0]["code"]
    errors, unnamed = [], []
    clients = threading.local()  # requests go eight at a time, each thread with its own connection
    kept: list[User] = []

    def session(role: str, fresh: bool) -> User:
        """The thread's session for the role; a route that may end it gets one of its own."""
        if fresh or not hasattr(clients, role):
            user = signed_in(admin_id if role == "admin" else community.riders[0].id, role, community.id)
            if fresh:
                return user
            setattr(clients, role, user)
            kept.append(user)
        return getattr(clients, role)

    def send(method: str, path: str, role: str, **kw: Any) -> None:
        if not hasattr(clients, "api"):
            clients.api = Api(api.url)
        user = session(role, fresh=any(word in path for word in ENDS_SESSION))
        if "data" in kw:
            kw["data"] = {**kw["data"], "_csrf_token": user.csrf}
        if path.startswith("/open311/") and "jurisdiction_id" not in path:  # else every read asks which community
            path += ("&" if "?" in path else "?") + f"jurisdiction_id={code}"
        response = clients.api.request(method, path, user, follow_redirects=False, **kw)
        if response.status_code >= 500:
            errors.append(f"{method} {path} as {role} {str(kw)[:160]} → {response.status_code} {response.text[:200]}")
        elif response.status_code == 400 and path.startswith("/api/") and response.headers.get(
                "content-type", "").startswith("application/json"):
            if response.json()["error"].get("field") is None:
                unnamed.append(f"{method} {path} {str(kw)[:120]} → {response.text[:160]}")

    def plain_path(template: str) -> str:
        plain = paths(template)[0] if "{" not in template else re.sub(
            r"\{\w+:(\w+)\}", lambda m: {"int": "1", "str": "x", "path": "style.css"}[m.group(1)], template)
        return plain.replace("/x", "/requests.json") if template.startswith("/open311/") else plain

    def refused_to_rider(method: str, template: str) -> bool:
        path = plain_path(template)
        user = session("rider", fresh=any(word in path for word in ENDS_SESSION))
        form = {"data": {"_csrf_token": user.csrf}} if method != "GET" else {}
        return api.request(method, path, user, follow_redirects=False, **form).status_code in (401, 403)

    # A route the rider is refused is refused by its guard before any query or body is read: its bad paths are
    # sent as the rider too, its poisoned queries and bodies as the admin only.
    refused = {(method, template) for method, template in routes() if refused_to_rider(method, template)}
    requests: list[tuple[tuple, dict]] = []
    for method, template in routes():
        for role in ("admin", "rider"):
            for path in paths(template):
                requests.append(((method, path, role), {}))
            if role == "rider" and (method, template) in refused:
                continue
            plain = plain_path(template)
            if method == "GET":
                for query in QUERY + (OPEN311_QUERY if template.startswith("/open311/") else []):
                    requests.append(((method, f"{plain}?{query}", role), {}))
            elif template.startswith("/api/") and multipart(spec, method, template):
                # A file part without a file name (a browser never sends one; a script may), beside poisoned fields.
                for value in ["", *FORM_VALUES]:
                    requests.append(((method, plain, role), {"files": [("photos", (None, b"\xff\xd8not a photo")),
                                                                       ("photo", (None, b"x"))],
                                                             "data": {f: value for f in FORM_FIELDS}}))
            elif template.startswith("/api/"):
                for body in schema_bodies(spec, method, template):
                    raw = body if isinstance(body, str) else json.dumps(body)
                    requests.append(((method, plain, role),
                                     {"content": raw, "headers": {"Content-Type": "application/json"}}))
            else:
                for value in FORM_VALUES:
                    requests.append(((method, plain, role), {"data": {f: value for f in FORM_FIELDS}}))
    with ThreadPoolExecutor(8) as pool:
        for done in [pool.submit(send, *args, **kw) for args, kw in requests]:
            done.result()
    sent = len(requests)
    print(f"{sent} malformed requests; {len(refused)} routes refused to the rider")
    assert sent > 2000
    # The sessions the requests shared still work: no request ended them and hid the ones after it.
    assert [api.get("/api/v1/me", user).status_code for user in kept] == [200] * len(kept)
    assert not errors, f"{len(errors)} of {sent} got a server error:\n" + "\n".join(errors[:40])
    assert not unnamed, f"{len(unnamed)} 400s without the field:\n" + "\n".join(unnamed[:40])
