"""The codes that prove presence at a task, from the task's secret (which never leaves the server):

- the site's code, six digits that change every `code_seconds` (HOTP, RFC 4226, over time steps, as TOTP
  does): shown on site by staff, so a photo of it sent to a friend soon stops working;
- a member's pass code for a task (报名码), six digits that do not change: shown on the member's phone for
  staff to type or scan when the member cannot check in themselves (no signal, no battery for the camera).
"""

from __future__ import annotations

import hashlib
import hmac
import struct

PASS_COUNTER = 1 << 62  # pass codes use counters far above any time step, so the two never meet


def code_at(secret: str, counter: int) -> str:
    """The six-digit HOTP code of `counter` under `secret` (hex)."""
    digest = hmac.new(bytes.fromhex(secret), struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    return f"{(struct.unpack('>I', digest[offset:offset + 4])[0] & 0x7FFFFFFF) % 1_000_000:06d}"


def pass_code(secret: str, member_id: int) -> str:
    return code_at(secret, PASS_COUNTER + member_id)
