"""The one clock. Every code path that reads the time (caps, expiry, honours, sessions, limits, orders'
pickup windows, audit and ledger timestamps) calls `now()`, never `datetime.now()`.

In service it is the system clock. Tests pin it: JIFEN_CLOCK_OFFSET_SECONDS shifts every process of a test
run by the same amount (the suite sets it from JIFEN_TEST_CLOCK, e.g. 2026-12-31T23:30:00+08:00), so app,
workers and the test process agree on one shifted time that still runs on. Tests also move it while processes
run: JIFEN_CLOCK_FILE names a file holding more seconds to add, read again whenever the file changes, so
"eleven minutes later" is a write to that file, not a wait. Nothing else should set either.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Any

OFFSET_VARIABLE = "JIFEN_CLOCK_OFFSET_SECONDS"
FILE_VARIABLE = "JIFEN_CLOCK_FILE"


_parsed: tuple[str, timedelta] = ("0", timedelta(0))
_moved: tuple[tuple[str, int, int], timedelta] = (("", 0, 0), timedelta(0))


def _seconds(raw: str, source: str) -> timedelta:
    try:
        return timedelta(seconds=float(raw or "0"))
    except ValueError:
        raise SystemExit(f"configuration error: {source}: must be a number of seconds, got {raw!r}") from None


def _shift() -> timedelta:
    """The shift in force: the environment's offset, plus the clock file's when one is named (each parsed
    again only when it changes)."""
    global _parsed, _moved
    raw = os.environ.get(OFFSET_VARIABLE) or "0"
    if raw != _parsed[0]:
        _parsed = (raw, _seconds(raw, OFFSET_VARIABLE))
    path = os.environ.get(FILE_VARIABLE)
    if not path:
        return _parsed[1]
    try:
        found = os.stat(path)
        version = (path, found.st_ino, found.st_mtime_ns)  # a move is a new file (see move_to): a new inode
    except FileNotFoundError:
        return _parsed[1]
    if version != _moved[0]:
        with open(path, encoding="ascii") as f:
            _moved = (version, _seconds(f.read().strip(), path))
    return _parsed[1] + _moved[1]


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


def move_to(path: str, seconds: float) -> None:
    """Set the clock file at `path` to `seconds` ahead (a test moving every process that reads it). Written
    whole, then renamed over the old: a reader never sees half a number."""
    temporary = f"{path}.{os.getpid()}"
    with open(temporary, "w", encoding="ascii") as f:
        f.write(repr(float(seconds)))
    os.replace(temporary, path)
