"""Working days: the calendar file's public holidays and make-up working days (调休), year by year, and
deadlines counted in working days or in hours. Pure Python, no database.

A deadline of N working days from a moment ends at midnight (local) after the Nth working day following
that moment's day: dispatched on a Friday, 3 working days end on Wednesday at 24:00 when Monday to
Wednesday are worked. A day of a year the calendar does not list counts Monday to Friday, and the
deadline says it was counted so (`Deadline.assumed`), for staff to see.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from rules.loader import RulesError

CALENDAR_FILE = Path(__file__).with_name("calendar.toml")
MAX_WORKING_DAYS = 366


@dataclass(frozen=True)
class Deadline:
    at: datetime
    assumed: tuple[int, ...] = ()  # years with no calendar, counted Monday to Friday


@dataclass(frozen=True)
class Calendar:
    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()
    years: frozenset[int] = frozenset()
    sources: dict[int, str] = field(default_factory=dict, compare=False)

    def is_working_day(self, day: date) -> bool:
        if day in self.workdays:
            return True
        return day not in self.holidays and day.weekday() < 5

    def after_working_days(self, start: datetime, days: int, tz: ZoneInfo) -> Deadline:
        """The end of the `days`-th working day after `start`'s local day (midnight local, as an aware moment)."""
        if not 0 < days <= MAX_WORKING_DAYS:
            raise ValueError(f"working days must be 1 to {MAX_WORKING_DAYS}, got {days}")
        day, counted, assumed = start.astimezone(tz).date(), 0, set()
        while counted < days:
            day += timedelta(days=1)
            if day.year not in self.years:
                assumed.add(day.year)
            counted += self.is_working_day(day)
        end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)
        return Deadline(end, tuple(sorted(assumed)))

    def working_hours(self, start: datetime, end: datetime, tz: ZoneInfo) -> float:
        """The hours between two moments that fall on working days (local), weekends and holidays left out."""
        if end <= start:
            return 0.0
        hours, moment = 0.0, start.astimezone(tz)
        end = end.astimezone(tz)
        while moment < end:
            midnight = datetime.combine(moment.date() + timedelta(days=1), time(0), tzinfo=tz)
            stop = min(midnight, end)
            if self.is_working_day(moment.date()):
                hours += (stop - moment).total_seconds() / 3600
            moment = stop
        return hours

    @staticmethod
    def after_hours(start: datetime, hours: int) -> Deadline:
        """Urgent work runs round the clock: `hours` after `start`, whatever the day."""
        return Deadline(start + timedelta(hours=hours))


def _day(value: object, year: int, where: str, problems: list[str]) -> date | None:
    try:
        day = date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        day = None
    if day is None:
        problems.append(f"{where}: {value!r} is not a date like 2026-10-01")
    elif day.year != year:
        problems.append(f"{where}: {value} is not in {year}")
        return None
    return day


def load_calendar(path: str | Path = CALENDAR_FILE) -> Calendar:
    """The calendar file, checked: every problem is reported with the file, the year and the field."""
    path = Path(path)
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise RulesError(str(path), [f"cannot read the calendar: {exc}"]) from None
    problems: list[str] = []
    holidays: set[date] = set()
    workdays: set[date] = set()
    years: dict[int, str] = {}
    for n, raw in enumerate(doc.get("year", []) if isinstance(doc.get("year"), list) else [], 1):
        where = f"year #{n}"
        year = raw.get("year") if isinstance(raw, dict) else None
        if not isinstance(year, int) or isinstance(year, bool) or not 2000 <= year <= 2100:
            problems.append(f"{where}, field 'year': must be a year from 2000 to 2100")
            continue
        where = f"year {year}"
        if year in years:
            problems.append(f"{where}: listed twice")
        years[year] = str(raw.get("source", ""))

        def day_of(value: object, what: str, year: int = year, where: str = where) -> date | None:
            return _day(value, year, f"{where}, field '{what}'", problems)

        for span in raw.get("holidays", []):
            if not (isinstance(span, list) and len(span) == 2):
                problems.append(f"{where}, field 'holidays': each entry is [first day, last day]")
                continue
            first, last = day_of(span[0], "holidays"), day_of(span[1], "holidays")
            if first and last:
                if last < first:
                    problems.append(f"{where}, field 'holidays': {last} is before {first}")
                holidays.update(first + timedelta(days=k) for k in range((last - first).days + 1))
        for value in raw.get("workdays", []):
            day = day_of(value, "workdays")
            if day and day.weekday() < 5:
                problems.append(f"{where}, field 'workdays': {day} is a weekday already (make-up days are weekend days)")
            elif day:
                workdays.add(day)
    clash = sorted(holidays & workdays)
    if clash:
        problems.append(f"days both holiday and working day: {', '.join(map(str, clash))}")
    if problems:
        raise RulesError(str(path), problems)
    return Calendar(frozenset(holidays), frozenset(workdays), frozenset(years), years)
