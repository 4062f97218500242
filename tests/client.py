"""The API as a client holds it: a member's session cookie and CSRF token (or an API token), and calls."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from harness import PASSWORD, TLS, wait_for


@dataclass
class User:
    """A member as a client holds them: the session cookie and its CSRF token (or an API token)."""

    id: int
    role: str
    phone: str
    session: str | None
    csrf: str | None
    community_id: int
    bearer: str | None = None


SESSION_COOKIE = "jifen_session"


def user_from(response: httpx.Response, phone: str) -> User:
    body = response.json()
    return User(body["member"]["id"], body["member"]["role"], phone, response.cookies[SESSION_COOKIE],
                body["csrf_token"], body["member"]["community_id"])


class Api:
    """HTTP calls as a logged-in member (or anonymously with user=None).

    The client keeps no cookie jar: each call sends the given user's session cookie and CSRF token, as
    that member's browser would, so one client can speak for many members.
    """

    def __init__(self, url: str):
        self.url = url
        # Idle connections are dropped before uvicorn's 5 s keep-alive closes them under us.
        self.http = httpx.Client(base_url=url, timeout=60, limits=httpx.Limits(keepalive_expiry=2), verify=TLS)

    def request(self, method: str, path: str, user: User | None = None, **kwargs: Any) -> httpx.Response:
        headers = dict(kwargs.pop("headers", {}))
        if user is not None and user.bearer:
            headers.setdefault("Authorization", f"Bearer {user.bearer}")
        elif user is not None:
            headers.setdefault("Cookie", f"{SESSION_COOKIE}={user.session}")
            if user.csrf:
                headers.setdefault("X-CSRF-Token", user.csrf)
        self.http.cookies.clear()
        return self.http.request(method, path, headers=headers, **kwargs)

    def get(self, path: str, user: User | None = None, **kw: Any) -> httpx.Response:
        return self.request("GET", path, user, **kw)

    def post(self, path: str, user: User | None = None, **kw: Any) -> httpx.Response:
        return self.request("POST", path, user, **kw)

    def login(self, phone: str, password: str = PASSWORD) -> httpx.Response:
        return self.post("/api/v1/auth/login", json={"phone": phone, "password": password})

    def user(self, phone: str, password: str = PASSWORD) -> User:
        """Log in and return the member as a client holds them."""
        response = self.login(phone, password)
        assert response.status_code == 200, response.text
        return user_from(response, phone)

    def submit(self, user: User, item: str, photos: list[bytes] | None = None, key: str | None = None,
               **fields: Any) -> httpx.Response:
        # Always multipart, as a phone's FormData is: fields are parts without a file name.
        parts = [(name, (None, str(value))) for name, value in {"item": item, **fields}.items()]
        parts += [("photos", (f"p{i}.jpg", p, "image/jpeg")) for i, p in enumerate(photos or [])]
        headers = {"Idempotency-Key": key} if key else {}
        return self.post("/api/v1/submissions", user, files=parts, headers=headers)

    def verify(self, staff: User, sid: int, **body: Any) -> httpx.Response:
        return self.post(f"/api/v1/staff/submissions/{sid}/verify", staff, json=body)

    def reject(self, staff: User, sid: int, reason: str, note: str = "") -> httpx.Response:
        return self.post(f"/api/v1/staff/submissions/{sid}/reject", staff, json={"reason": reason, "note": note})

    def submission(self, user: User, sid: int) -> dict[str, Any]:
        response = self.get(f"/api/v1/submissions/{sid}", user)
        assert response.status_code == 200, response.text
        return response.json()

    def balance(self, user: User) -> dict[str, int]:
        return self.get("/api/v1/me", user).json()["balance"]

    def wait_awarded(self, user: User, sid: int, timeout: float = 20) -> dict[str, Any]:
        return wait_for(lambda: (s := self.submission(user, sid))["status"] == "awarded" and s,
                        timeout=timeout, what=f"submission {sid} to be awarded")


