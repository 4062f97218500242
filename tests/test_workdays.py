"""Working days for deadlines (交办 time limits): weekends, public holidays and make-up working days (调休)
from the calendar file, in the scheme's time zone; a year the file does not list counts Monday to Friday
and says so; and the checker names every problem in a calendar file."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from conftest import ROOT
from rules.workdays import load_calendar

pytestmark = pytest.mark.pure  # no server, no database: the embedded leg runs it

SHANGHAI = ZoneInfo("Asia/Shanghai")
CALENDAR = load_calendar()


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


@pytest.mark.parametrize(("start", "days", "end", "assumed"), [
    ("2026-11-27T10:00:00+08:00", 3, "2026-12-03T00:00:00+08:00", ()),  # Friday: Monday to Wednesday
    ("2026-09-30T09:00:00+08:00", 3, "2026-10-11T00:00:00+08:00", ()),  # 国庆 1–7 Oct; Saturday 10 Oct is worked
    ("2026-02-13T15:00:00+08:00", 1, "2026-02-15T00:00:00+08:00", ()),  # Saturday 14 Feb is a make-up day
    ("2026-02-14T15:00:00+08:00", 1, "2026-02-25T00:00:00+08:00", ()),  # 春节 15–23 Feb, then a weekday
    ("2026-12-31T17:00:00+00:00", 1, "2027-01-05T00:00:00+08:00", (2027,)),  # 1 Jan 2027 in Shanghai; 2027 unknown
    ("2028-02-28T12:00:00+08:00", 1, "2028-03-01T00:00:00+08:00", (2028,)),  # through a leap day
])
def test_deadlines_in_working_days(start, days, end, assumed):
    deadline = CALENDAR.after_working_days(at(start), days, SHANGHAI)
    assert deadline.at == at(end) and deadline.assumed == assumed


def test_urgent_deadlines_run_round_the_clock():
    assert CALENDAR.after_hours(at("2026-10-01T22:00:00+08:00"), 4).at == at("2026-10-02T02:00:00+08:00")


def test_the_calendar_checker_names_each_problem(tmp_path):
    bad = tmp_path / "calendar.toml"
    bad.write_text('[[year]]\nyear = 2027\nholidays = [["2027-02-10", "2027-02-01"], ["2026-10-01", "2027-10-02"]]\n'
                   'workdays = ["2027-02-03", "2027-13-01", "2027-02-06"]\n'
                   '[[year]]\nyear = 2027\nholidays = [["2027-02-06", "2027-02-06"]]\n', encoding="utf-8")
    checked = subprocess.run([sys.executable, "-m", "rules", "check", str(bad)], cwd=ROOT, capture_output=True, text=True)
    assert checked.returncode == 1
    for words in ("year 2027, field 'holidays': 2027-02-01 is before 2027-02-10",
                  "year 2027, field 'holidays': 2026-10-01 is not in 2027",
                  "year 2027, field 'workdays': 2027-02-03 is a weekday already",
                  "year 2027, field 'workdays': '2027-13-01' is not a date like 2026-10-01",
                  "year 2027: listed twice", "days both holiday and working day: 2027-02-06"):
        assert words in checked.stderr, checked.stderr
    good = subprocess.run([sys.executable, "-m", "rules", "check", "rules/calendar.toml"], cwd=ROOT,
                          capture_output=True, text=True)
    assert good.returncode == 0 and "working-day calendar for 2026" in good.stdout


def test_working_hours_leave_out_weekends_and_holidays():
    # Friday 16:00 to Monday 10:00: 8 hours of Friday and 10 of Monday
    assert CALENDAR.working_hours(at("2026-11-27T16:00:00+08:00"), at("2026-11-30T10:00:00+08:00"), SHANGHAI) == 18
    # 30 September 20:00 to 8 October 02:00: 4 hours, then 国庆 off, then 2 hours of the 8th
    assert CALENDAR.working_hours(at("2026-09-30T20:00:00+08:00"), at("2026-10-08T02:00:00+08:00"), SHANGHAI) == 6
