"""Each request's id: taken from the proxy's X-Request-ID when well formed, else made here; set for every log
line the request causes and every job it enqueues (points/infra/logs.py), and sent back as X-Request-ID. Each
answer says how many SQL statements it took (``Server-Timing: sql;desc="N statements"``, which a browser's
developer tools show). With JIFEN_LOG_FORMAT=json, one access line per request (method, route path without its
query — a query may hold a place — status, milliseconds, statements); run uvicorn with --no-access-log then, its
own lines being text."""

from __future__ import annotations

import itertools
import logging
import os
import secrets
import time

from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from points.infra import db, logs

log = logging.getLogger("jifen.access")
_maker: tuple[int, str, itertools.count] = (0, "", itertools.count(1))


def _made_id() -> str:
    """A new id: this process's random prefix (made again in a forked child) and a count — unique across
    processes, and cheaper than a uuid4 per request."""
    global _maker
    if _maker[0] != os.getpid():
        _maker = (os.getpid(), secrets.token_hex(8), itertools.count(1))
    return f"{_maker[1]}{next(_maker[2]):08x}"


class RequestIds(ASGIMiddleware):
    scopes = (ScopeType.HTTP,)

    def __init__(self, access_lines: bool):
        self.access_lines = access_lines

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        sent = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = sent if logs.WELL_FORMED.fullmatch(sent) else _made_id()
        status = 500
        started = time.monotonic()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode()),
                                      (b"server-timing", f'sql;desc="{statements[0]} statements"'.encode())]
            await send(message)

        with logs.request_id(request_id), db.counting_statements() as statements:
            try:
                await next_app(scope, receive, send_with_id)
            finally:
                if self.access_lines:
                    log.info("%s %s %d %.1f ms %d statements", scope["method"], scope["path"], status,
                             (time.monotonic() - started) * 1000, statements[0])
