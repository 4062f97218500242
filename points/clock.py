"""The one clock. Every code path that reads the time (caps, expiry, honours, sessions, limits, orders'
pickup windows, audit and ledger timestamps) calls `now()`, never `datetime.now()`.

In service it is the system clock. Tests pin it: JIFEN_CLOCK_OFFSET_SECONDS shifts every process of a test
run by the same amount (the suite sets it from JIFEN_TEST_CLOCK, e.g. 2026-12-31T23:30:00+08:00), so app,
workers and the test process agree on one shifted time that still runs on. Nothing else should set it.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Any

OFFSET_VARIABLE = "JIFEN_CLOCK_OFFSET_SECONDS"


_parsed: tuple[str, timedelta] = ("0", timedelta(0))


def _shift() -> timedelta:
    """The shift in force: read from the environment (cheaply: parsed again only when it changes)."""
    global _parsed
    raw = os.environ.get(OFFSET_VARIABLE) or "0"
    if raw != _parsed[0]:
        try:
            _parsed = (raw, timedelta(seconds=float(raw)))
        except ValueError:
            raise SystemExit(f"configuration error: {OFFSET_VARIABLE}: must be a number of seconds, got {raw!r}") \
                from None
    return _parsed[1]


def now() -> datetime:
    """The current instant, in UTC."""
    return datetime.now(UTC) + _shift()


def aware(moment: Any) -> datetime:
    """A moment read back from either database (SQLite gives text or naive times, in UTC), as an aware
    datetime."""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def timestamp() -> float:
    """The current instant as seconds since the epoch (for session records and rate-limit windows)."""
    return now().timestamp()


def offset_to(target: datetime) -> float:
    """The offset (seconds) that makes the clock read `target` now: what a test run exports."""
    return (target - datetime.now(UTC)).total_seconds()
