"""The signature forwarding's webhooks carry both ways (points/cases/outbox.py signs what it sends,
points/cases/forwarding.py checks the callbacks); the calls themselves go through points/infra/outbound.py.

HMAC-SHA256 over ``{timestamp}.{body}`` with the forwarding's secret, sent as ``X-Jifen-Timestamp`` (seconds
since the epoch) and ``X-Jifen-Signature: sha256=<hex>``; a receiver checks the timestamp is recent
(SIGNATURE_WINDOW_S), so a captured request cannot be replayed later.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_WINDOW_S = 300


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
