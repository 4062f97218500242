"""One-time login codes sent by SMS (ASVS 6.5/6.6).

Six digits from a CSPRNG, valid for ten minutes, single use, at most five
tries each; only the newest code of a number counts. A code is stored as an
HMAC under the deployment's secret key (`JIFEN_SECRET_KEY`, or a key made once
in the data directory): a million codes are quickly tried against a plain
hash, so a copy of the table alone must not be enough to find one.
A code is sent only to the number of an existing member, yet the answer to the
request is the same either way. How often codes may be asked for is the web
layer's rate limit (per number and per address).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from datetime import timedelta

from points import clock
from points.infra.config import settings
from points.infra.db import sql, write
from points.infra.sms import Sender
from points.people import members
from points.scope import Actor
from points.wording import pair

LIFETIME = timedelta(minutes=10)
MAX_ATTEMPTS = 5


def _key() -> bytes:
    """The deployment's secret key: JIFEN_SECRET_KEY, else one made at first use in the data directory
    (shared by the processes of one machine; several machines need JIFEN_SECRET_KEY, the same on each)."""
    global _secret
    if _secret is None:
        config = settings()
        if config.secret_key:
            _secret = config.secret_key.encode()
        else:
            path = config.data_dir / "secret_key"
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as f:
                    f.write(secrets.token_hex(32))
            except FileExistsError:
                pass  # another process made it first
            _secret = path.read_text().strip().encode()
    return _secret


_secret: bytes | None = None


def _hash(code: str, salt: str) -> str:
    return salt + "$" + hmac.new(_key(), f"{salt}:{code}".encode(), hashlib.sha256).hexdigest()


def _matches(code: str, stored: str) -> bool:
    salt, _, _ = stored.partition("$")
    return hmac.compare_digest(_hash(code, salt), stored)


async def request(phone: str, sender: Sender) -> None:
    """Send a code to `phone` if a member has it; silently nothing otherwise."""
    phone = members.normalise_phone(phone)
    if await members.by_phone(phone) is None:
        return
    code = f"{secrets.randbelow(10**6):06d}"
    now = clock.now()
    await write(lambda: sql("INSERT INTO one_time_code (phone, code_hash, created_at, expires_at, attempts) "
                            "VALUES ({}, {}, {}, {}, 0) RETURNING id", phone, _hash(code, secrets.token_hex(8)),
                            now, now + LIFETIME))
    await sender.send(phone, " ".join(pair("sms", "login_code", code=code)))


async def purge(kept_for: timedelta = timedelta(days=1)) -> int:
    """Delete codes dead for longer than `kept_for` (they matter only while a login may still try them)."""
    return len(await write(lambda: sql("DELETE FROM one_time_code WHERE expires_at < {} RETURNING id",
                                       clock.now() - kept_for)))


async def login(phone: str, code: str) -> Actor | None:
    """The member, if `code` is the newest live code for `phone`; each try counts, a used code is spent."""
    try:
        phone = members.normalise_phone(phone)
    except Exception:
        return None
    code = (code or "").strip()

    async def run() -> bool:
        now = clock.now()
        rows = await sql("SELECT id, code_hash, expires_at, attempts, used_at FROM one_time_code WHERE phone = {} "
                         "ORDER BY id DESC LIMIT 1", phone)
        if not rows or rows[0]["used_at"] is not None or rows[0]["expires_at"] <= now:
            return False
        tried = await sql("UPDATE one_time_code SET attempts = attempts + 1 WHERE id = {} AND attempts < {} "
                          "RETURNING id", rows[0]["id"], MAX_ATTEMPTS)
        if not tried or not _matches(code, rows[0]["code_hash"]):
            return False
        return bool(await sql("UPDATE one_time_code SET used_at = {} WHERE id = {} AND used_at IS NULL RETURNING id",
                              now, rows[0]["id"]))

    if not await write(run):
        return None
    return await members.by_phone(phone)
