"""Passwords: scrypt hashes, the rule a new password must meet, and a bounded pool to compute them in.

scrypt takes ~90 ms of CPU: run in the event loop it would stall every other request of the process, so
`hashed()` and `matches()` run it in a pool of KDF_THREADS threads (per process), which also bounds how many
hashes a process computes at once. An unknown account is checked against DUMMY_HASH, as slowly as a real one.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from points.errors import Invalid, checked
from rules import fields

T = TypeVar("T")
_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}
MIN_PASSWORD = 8
KDF_THREADS = 2


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, **_SCRYPT)
    return f"scrypt${salt.hex()}${digest.hex()}"


def check(password: str, stored: str) -> bool:
    try:
        _, salt, digest = stored.split("$")
    except ValueError:
        check(password, DUMMY_HASH)  # as slow as a real check
        return False
    candidate = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), **_SCRYPT)
    return hmac.compare_digest(candidate.hex(), digest)


DUMMY_HASH = hash_password(secrets.token_hex(8))
_kdf_pool = ThreadPoolExecutor(KDF_THREADS, thread_name_prefix="jifen-kdf")


async def _off_loop(fn: Callable[..., T], *args: Any) -> T:
    return await asyncio.get_running_loop().run_in_executor(_kdf_pool, fn, *args)


async def hashed(password: str) -> str:
    return await _off_loop(hash_password, password)


async def matches(password: str, stored: str) -> bool:
    return await _off_loop(check, password, stored)


def check_rule(password: str) -> None:
    """A new password: 8 to 200 characters, none of them NUL or a control character."""
    if len(password) < MIN_PASSWORD:
        raise Invalid("weak_password", f"password must be at least {MIN_PASSWORD} characters", field="password")
    if len(password) > fields.PASSWORD.max_length:
        raise Invalid("password_too_long", f"password must be at most {fields.PASSWORD.max_length} characters",
                      field="password")
    checked(fields.PASSWORD, "password", password)
