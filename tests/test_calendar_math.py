"""The date arithmetic every clock-reading path rests on, over the awkward instants: the last minutes of a
month (30 April), of a year in Asia/Shanghai (still 30 or 31 December in UTC), a leap day, and the first
minutes after each. Local days, scheme months (caps, the honour board), reward limit periods, expiry dates
and the cut-off of the expiry sweep; and the clock itself, shifted and moved. Pure: no server, no database
— which is why the whole suite runs pinned to one awkward day only (./dev test), not to each of these."""

from __future__ import annotations

import dataclasses
import os
from datetime import UTC, date, datetime, timedelta

import pytest

from points import clock
from points.areas import schemes
from points.ledger import expiry, honours
from points.shop.rewards import period_of

pytestmark = [pytest.mark.calendar, pytest.mark.pure]  # reads the calendar, pinned by itself

RULES = schemes.current()  # the default scheme: Asia/Shanghai, points expire at the end of the next year
SHANGHAI = RULES.tz


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


# (instant, its local day in Shanghai, its scheme month, the month before)
INSTANTS = [
    ("2027-04-30T23:45:00+08:00", date(2027, 4, 30), "2027-04", "2027-03"),  # a month's last minutes
    ("2027-04-30T16:00:00+00:00", date(2027, 5, 1), "2027-05", "2027-04"),  # May in Shanghai, April in UTC
    ("2026-12-31T23:30:00+08:00", date(2026, 12, 31), "2026-12", "2026-11"),  # the year's end, 15:30 UTC
    ("2026-12-31T16:00:00+00:00", date(2027, 1, 1), "2027-01", "2026-12"),  # 2027 in Shanghai, 2026 in UTC
    ("2028-02-29T23:40:00+08:00", date(2028, 2, 29), "2028-02", "2028-01"),  # a leap day
    ("2028-02-29T16:00:00+00:00", date(2028, 3, 1), "2028-03", "2028-02"),  # the day after it
]


@pytest.mark.parametrize(("instant", "day", "month", "before"), INSTANTS)
def test_local_day_and_scheme_month(instant, day, month, before):
    moment = at(instant)
    assert RULES.local_date(moment) == day
    assert honours.month_of(RULES, moment) == month
    assert honours.previous_month(month) == before
    start, end = honours.month_bounds(RULES, month)
    assert start <= moment < end
    assert start.astimezone(SHANGHAI).timetz().replace(tzinfo=None) == datetime.min.time()
    assert (end.astimezone(SHANGHAI).day, start.astimezone(SHANGHAI).day) == (1, 1)


@pytest.mark.parametrize(("month", "days"), [("2028-02", 29), ("2027-02", 28), ("2026-12", 31), ("2027-04", 30)])
def test_month_bounds_span_the_month(month, days):
    start, end = honours.month_bounds(RULES, month)
    assert end - start == timedelta(days=days)
    assert start == at(f"{month}-01T00:00:00+08:00")


@pytest.mark.parametrize(("instant", "period", "key", "resets"), [
    ("2027-04-30T23:45:00+08:00", "month", "2027-04", "2027-05-01T00:00:00+08:00"),
    ("2027-04-30T16:00:00+00:00", "month", "2027-05", "2027-06-01T00:00:00+08:00"),
    ("2026-12-31T23:30:00+08:00", "month", "2026-12", "2027-01-01T00:00:00+08:00"),
    ("2026-12-31T23:30:00+08:00", "quarter", "2026-Q4", "2027-01-01T00:00:00+08:00"),
    ("2026-12-31T23:30:00+08:00", "year", "2026", "2027-01-01T00:00:00+08:00"),
    ("2026-12-31T16:00:00+00:00", "year", "2027", "2028-01-01T00:00:00+08:00"),
    ("2028-02-29T23:40:00+08:00", "quarter", "2028-Q1", "2028-04-01T00:00:00+08:00"),
    ("2028-02-29T16:00:00+00:00", "month", "2028-03", "2028-04-01T00:00:00+08:00"),
])
def test_reward_limit_periods(instant, period, key, resets):
    found = period_of(at(instant), period, SHANGHAI)
    assert (found.key, found.resets_at) == (key, at(resets))


@pytest.mark.parametrize(("earned", "expires"), [
    ("2026-12-31T23:30:00+08:00", "2028-01-01T00:00:00+08:00"),  # earned in 2026 (Shanghai): gone with 2027
    ("2026-12-31T16:00:00+00:00", "2029-01-01T00:00:00+08:00"),  # 2027 in Shanghai though 2026 in UTC
    ("2028-02-29T23:40:00+08:00", "2030-01-01T00:00:00+08:00"),
])
def test_points_expire_at_the_end_of_the_next_year(earned, expires):
    assert expiry.expires_at(RULES, at(earned)) == at(expires)


def test_points_expire_after_days_across_a_leap_day():
    rules = dataclasses.replace(RULES, expiry=dataclasses.replace(RULES.expiry, policy="after_days", days=365))
    assert expiry.expires_at(rules, at("2027-03-01T10:00:00+08:00")) == at("2028-02-29T10:00:00+08:00")
    assert expiry._cutoff(rules, at("2028-02-29T10:00:00+08:00")) == at("2027-03-01T10:00:00+08:00")


@pytest.mark.parametrize(("now", "cutoff"), [
    ("2026-12-31T23:30:00+08:00", "2025-01-01T00:00:00+08:00"),
    ("2026-12-31T16:00:00+00:00", "2026-01-01T00:00:00+08:00"),  # already 2027 in Shanghai
    ("2028-02-29T23:40:00+08:00", "2027-01-01T00:00:00+08:00"),
])
def test_the_expiry_sweep_looks_back_to_the_year_before(now, cutoff):
    assert expiry._cutoff(RULES, at(now)) == at(cutoff)


def test_the_clock_is_shifted_and_moved(tmp_path, monkeypatch):
    """The run's offset (JIFEN_CLOCK_OFFSET_SECONDS) and a clock file moved while processes run."""
    target = at("2026-12-31T23:30:00+08:00")
    monkeypatch.setenv(clock.OFFSET_VARIABLE, str(clock.offset_to(target)))
    assert abs(clock.now() - target) < timedelta(minutes=5)
    moves = str(tmp_path / "clock")
    monkeypatch.setenv(clock.FILE_VARIABLE, moves)
    assert abs(clock.now() - target) < timedelta(minutes=5)  # no file yet: no move
    for minutes, day in ((35, date(2027, 1, 1)), (25, date(2026, 12, 31)), (24 * 60 + 35, date(2027, 1, 2))):
        clock.move_to(moves, minutes * 60)  # forward, back, and a day on
        assert abs(clock.now() - (target + timedelta(minutes=minutes))) < timedelta(minutes=5)
        assert RULES.local_date(clock.now()) == day
    assert not [name for name in os.listdir(tmp_path) if name != "clock"]  # written whole, renamed over
    assert clock.now().tzinfo is UTC
