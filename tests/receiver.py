"""A small outside system the forwarding tests start on the tests' outside address (harness.OUTSIDE): a webhook receiver that de-duplicates on the
Idempotency-Key (as we tell receivers to), or an Open311 GeoReport v2 server that takes requests and answers their
status. It can fail a number of times, refuse for good, or hold a request unanswered (to kill the sender)."""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from harness import OUTSIDE


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float  # time.monotonic()
    answered: int = 0

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        return dict(urllib.parse.parse_qsl(self.body.decode()))


@dataclass
class Receiver:
    fail_next: int = 0  # answer 500 to this many requests first
    status: int = 200  # then this (a 4xx refuses for good)
    hold: threading.Event | None = None  # when set up unset: the next request waits until it is set
    received: list[Received] = field(default_factory=list)
    applied: dict[str, dict[str, Any]] = field(default_factory=dict)  # by Idempotency-Key, first one only
    requests: dict[str, dict[str, Any]] = field(default_factory=dict)  # GeoReport: service_request_id → status
    tokens: bool = False  # GeoReport: answer a POST with a token, named by GET tokens/{token}
    location: str = ""  # sent with a 3xx status: where it redirects
    error: str = "not now"  # what a failing answer says
    host: str = OUTSIDE  # where it listens (127.0.0.1: a service inside, which Jifen must not reach)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> Receiver:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                return None

            def do_POST(self) -> None:
                owner._serve(self, self.rfile.read(int(self.headers.get("Content-Length", 0))))

            def do_GET(self) -> None:
                owner._serve(self, b"")

        self.server = ThreadingHTTPServer((self.host, 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://{self.host}:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.hold is not None:
            self.hold.set()
        self.server.shutdown()
        self.server.server_close()

    def _serve(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        got = Received(handler.command, handler.path, dict(handler.headers.items()), body, time.monotonic())
        with self.lock:
            self.received.append(got)
            hold, self.hold = (self.hold, None) if self.hold is not None and not self.hold.is_set() else (None, self.hold)
            failing = self.fail_next > 0
            self.fail_next -= failing
        if hold is not None:
            hold.wait(60)  # the sender is killed meanwhile; whatever is answered then goes nowhere
        status = 500 if failing else self.status
        if status >= 300:
            return self._answer(handler, got, status, {"error": self.error}, self.location)
        if got.method == "GET" and "/tokens/" in got.path:  # GeoReport: GET tokens/T-n.json
            rid = "R-" + got.path.split("/tokens/T-")[1].split(".")[0]
            return self._answer(handler, got, 200, [{"service_request_id": rid, "token": f"T-{rid[2:]}"}])
        if got.method == "GET":  # GeoReport: GET requests.json?service_request_id=…
            query = urllib.parse.parse_qs(urllib.parse.urlsplit(got.path).query)
            ids = query.get("service_request_id", [""])[0].split(",")
            return self._answer(handler, got, 200, [{"service_request_id": i, **self.requests[i]}
                                                    for i in ids if i in self.requests])
        if got.path.endswith("/requests.json"):  # GeoReport: POST requests
            with self.lock:
                rid = f"R-{len(self.requests) + 1}"
                self.requests[rid] = {"status": "open", "status_notes": ""}
            return self._answer(handler, got, 200, [{"token": f"T-{rid[2:]}"} if self.tokens else
                                                    {"service_request_id": rid}])
        with self.lock:
            self.applied.setdefault(got.headers.get("Idempotency-Key", ""), got.json())
        return self._answer(handler, got, 200, {"ok": True})

    @staticmethod
    def _answer(handler: BaseHTTPRequestHandler, got: Received, status: int, payload: Any, location: str = "") -> None:
        data = json.dumps(payload).encode()
        got.answered = status
        try:
            handler.send_response(status)
            if location:
                handler.send_header("Location", location)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(data)))
            handler.end_headers()
            handler.wfile.write(data)
        except OSError:  # the sender went away while held
            pass

    def posts(self) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.method == "POST"]
