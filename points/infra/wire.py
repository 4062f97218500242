"""Talking to outside systems over HTTP (points/cases/outbox.py sends, points/cases/forwarding.py polls), and the signature
both directions carry.

Every call has a bounded timeout and runs off the event loop; a failure comes back as WireError with what went
wrong, never as a hang. Signatures: HMAC-SHA256 over ``{timestamp}.{body}`` with the forwarding's secret, sent as
``X-Jifen-Timestamp`` (seconds since the epoch) and ``X-Jifen-Signature: sha256=<hex>``; a receiver checks the
timestamp is recent (SIGNATURE_WINDOW_S), so a captured request cannot be replayed later.
"""

from __future__ import annotations

import hashlib
import hmac
import urllib.error
import urllib.request
from dataclasses import dataclass

import anyio

CONNECT_AND_READ_S = 10.0
SIGNATURE_WINDOW_S = 300
MAX_ANSWER_BYTES = 1_000_000


class WireError(Exception):
    """The outside system did not answer 2xx: `status` is its HTTP status (None: no answer at all)."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes


def signature(secret: str, timestamp: int, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def signature_holds(secret: str, timestamp: str, given: str, body: bytes, now: float) -> bool:
    """Whether `given` signs `body` at `timestamp` with `secret`, and `timestamp` is within the window of now."""
    try:
        moment = int(timestamp)
    except ValueError:
        return False
    if abs(now - moment) > SIGNATURE_WINDOW_S:
        return False
    return hmac.compare_digest(signature(secret, moment, body), given or "")


def _call(method: str, url: str, body: bytes | None, headers: dict[str, str]) -> Answer:
    request = urllib.request.Request(url, data=body, headers=headers, method=method)  # noqa: S310 (http/https: fields.FORWARD_URL)
    try:
        with urllib.request.urlopen(request, timeout=CONNECT_AND_READ_S) as answer:  # noqa: S310
            return Answer(answer.status, answer.read(MAX_ANSWER_BYTES))
    except urllib.error.HTTPError as exc:
        detail = exc.read(300).decode("utf-8", "replace").strip()
        raise WireError(f"HTTP {exc.code}{': ' + detail if detail else ''}", exc.code) from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise WireError(f"no answer: {reason}") from None


async def call(method: str, url: str, body: bytes | None = None, headers: dict[str, str] | None = None) -> Answer:
    return await anyio.to_thread.run_sync(_call, method, url, body, headers or {})
