"""Each input field's limits, declared once: length, range and characters.

The JSON API's request types (web/schemas.py), the pages' forms (web/forms.py),
the rules and catalogue checkers (rules/) and the domain read them from here,
and a test checks that each fits the database column it lands in (a text's
`max_length` within the column's, an id within PostgreSQL's INTEGER). No
text anywhere may hold NUL or other control characters (a multi-line text may
hold line breaks and tabs): PostgreSQL refuses NUL, and nobody means one.

Pure Python: `problem()` answers (code, message) or None, so each caller
raises its own kind of error naming the field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

INT32_MAX = 2**31 - 1  # PostgreSQL INTEGER (ids, counts, quantities)
# What no text may hold besides C0 controls: DEL and the C1 controls, lone surrogates, and Unicode's
# non-characters (U+FDD0–U+FDEF, and the last two code points of every plane): XML cannot carry them (an Open311
# answer in XML would break), and no person types them.
# Written as the regular expression's escapes, so the pattern itself is plain ASCII (the OpenAPI schema carries it).
NOT_TEXT = r"\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef" + "".join(
    f"\\U{plane:04x}fffe\\U{plane:04x}ffff" for plane in range(17))
ONE_LINE = rf"^[^\x00-\x1f{NOT_TEXT}]*$"
MULTI_LINE = rf"^[^\x00-\x08\x0b\x0c\x0e-\x1f{NOT_TEXT}]*$"


@dataclass(frozen=True)
class Text:
    max_length: int
    min_length: int = 0
    multiline: bool = False
    charset: str | None = None  # a regular expression the whole text must match, when tighter than "no controls"
    charset_says: str = ""

    @property
    def pattern(self) -> str:
        return self.charset or (MULTI_LINE if self.multiline else ONE_LINE)

    def cleaned(self, value: object) -> str:
        """Text from outside (another system's answer, not a person's input), made to fit: what the field may
        not hold taken out, cut to its length. Its charset, if tighter, is the caller's to check."""
        kept = MULTI_LINE if self.multiline else ONE_LINE  # "^[^…]*$": each character it refuses is "[…]"
        text = re.sub(kept.replace("^[^", "[", 1).removesuffix("]*$") + "]", "", str(value or ""))
        return text[:self.max_length]

    def problem(self, value: object) -> tuple[str, str] | None:
        """Why `value` does not fit, as (code, message), or None."""
        if not isinstance(value, str):
            return "invalid_input", "must be text"
        if "\x00" in value:
            return "invalid_text", "must not contain NUL characters"
        if len(value) > self.max_length:
            return "too_long", f"must be at most {self.max_length} characters"
        if len(value) < self.min_length:
            return ("required", "is required") if self.min_length == 1 else (
                "too_short", f"must be at least {self.min_length} characters")
        if not re.search(self.pattern, value):
            return "invalid_text", self.charset_says or "must not contain control characters or non-characters"
        return None


@dataclass(frozen=True)
class Whole:
    low: int
    high: int

    def problem(self, value: object) -> tuple[str, str] | None:
        if isinstance(value, bool) or not isinstance(value, int):
            return "invalid_number", f"must be a whole number, got {value!r}"
        if value < self.low:
            return "out_of_range", ("must not be negative" if self.low == 0 or value < 0
                                    else f"must be at least {self.low}")
        if value > self.high:
            return "out_of_range", f"must be at most {self.high}"
        return None


ASCII_DIGITS = re.compile(r"[0-9]{1,19}")  # what a number in a path, a query or a form is ('²' and '١' are not)


def whole(raw: object, spec: Whole) -> tuple[int | None, tuple[str, str] | None]:
    """Text (a path's id, a form's or a query's number) as a whole number within `spec`: (value, None), or
    (None, the problem). ASCII digits only — `str.isdigit()` also takes '²' and other scripts' digits."""
    text = str(raw if raw is not None else "").strip()
    if not ASCII_DIGITS.fullmatch(text):
        return None, ("invalid_number", f"must be a whole number from {spec.low} to {spec.high}")
    problem = spec.problem(int(text))
    return (None, problem) if problem else (int(text), None)


@dataclass(frozen=True)
class Day:
    """A calendar day in a range a person can mean (a filter, a report's date)."""

    low: date = date(2000, 1, 1)
    high: date = date(2100, 12, 31)

    def problem(self, value: date) -> tuple[str, str] | None:
        if not self.low <= value <= self.high:
            return "out_of_range", f"must be between {self.low.isoformat()} and {self.high.isoformat()}"
        return None


@dataclass(frozen=True)
class Moment:
    """An instant a person can mean (a task's times, a deadline asked, a window of reports): given with its zone,
    within the days `Day` allows."""

    low: date = date(2000, 1, 1)
    high: date = date(2100, 12, 31)

    def problem(self, value: object) -> tuple[str, str] | None:
        if not isinstance(value, datetime):
            return "invalid_date", "must be a date and time, e.g. 2026-12-04T18:00:00+08:00"
        if value.tzinfo is None or value.utcoffset() is None:
            return "invalid_date", "must give its time zone, e.g. 2026-12-04T18:00:00+08:00"
        if not self.low <= value.date() <= self.high:
            return "out_of_range", f"must be between {self.low.isoformat()} and {self.high.isoformat()}"
        return None


# Ids and numbers
ID = Whole(1, INT32_MAX)
WHOLE = Whole(0, INT32_MAX)  # a count or quantity with no tighter declaration
PRICE = Whole(1, 1_000_000)
OPEN311_PAGE = Whole(1, 10_000)
STOCK = Whole(0, 1_000_000)
QUANTITY = Whole(-100_000, 100_000)
LIMIT_COUNT = Whole(1, 1000)
UNITS = Whole(1, 1000)
RATING = Whole(1, 5)
DAY = Day()
MOMENT = Moment()

# People
PHONE = Text(32, 1)
PASSWORD = Text(200, 1)
PERSON_NAME = Text(100)
PLATFORM_RIDER_ID = Text(64)
BUILDING = Text(100)
COMMUNITY_CODE = Text(32, 1)
# 推荐码: letters and digits that cannot be misread for each other (no 0/O, 1/I/L), typed from a friend's phone
REFERRAL_CODE = Text(8, 6, charset=r"^[A-HJKMNP-Za-hjkmnp-z2-9]*$", charset_says="must be 6–8 letters and digits, as shown")
LOGIN_CODE = Text(12, 1)
TOKEN_NAME = Text(100)

# Requests' keys and choices
IDEMPOTENCY_KEY = Text(100, 8, charset=r"^[\x21-\x7e]*$", charset_says="must be visible ASCII characters")
CHOICE = Text(32)  # a role, status, reason code, platform …: checked against its list after this
ITEM_ID = Text(64, 1)

# Reports and decisions
DESCRIPTION = Text(2000, multiline=True)
ADDRESS = Text(200)
GRID = Text(32)
GRID_CODE = Text(32, 1)  # a grid's own code and name, as a boundary file gives them
GRID_NAME = Text(100, 1)
NOTE = Text(500, multiline=True)
CASE_NOTE = Text(1000, 1, multiline=True)  # a return's reason, a disposal's note, a recheck's finding: needed
UNIT_NAME = Text(100, 1)

# Forwarding to outside systems
FORWARD_URL = Text(500, 8, charset=r"^https?://[\x21-\x7e]+$", charset_says="must be an http:// or https:// URL")
FORWARD_SECRET = Text(200, 16, charset=r"^[\x21-\x7e]*$", charset_says="must be visible ASCII characters")
SERVICE_CODE = Text(64, charset=r"^[\x21-\x7e]*$", charset_says="must be visible ASCII characters")
EVENT_ID = Text(100, 1, charset=r"^[\x21-\x7e]*$", charset_says="must be visible ASCII characters")

# A community's own scheme: a whole rules file (the default one is about 25 kB)
RULES_FILE = Text(500_000, 1, multiline=True)

# Tasks
TASK_TITLE = Text(100, 1)
TASK_DESCRIPTION = Text(2000, multiline=True)
CHECKPOINT_NAME = Text(100, 1)
CHECKPOINT_WHAT = Text(200)
RADIUS_M = Whole(10, 5000)  # a task's place: how far from it counts as there
SLOTS = Whole(1, 10_000)
CHECKPOINTS = Whole(1, 50)  # a patrol's checkpoints
TASK_HOURS = Whole(1, 24 * 14)  # how long a task may run
COUNTED_HOURS = Whole(0, 24)  # the hours staff set when they correct a confirmation (at most the task's units)
TASK_CODE = Text(12, 1, charset=r"^[0-9]*$", charset_says="must be digits")
APPEAL = Text(500, 1, multiline=True)
LATITUDE = (-90.0, 90.0)
LONGITUDE = (-180.0, 180.0)

# The shop
REWARD_CODE = Text(64, 1, charset=r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$",
                    charset_says="must be lower-case ASCII letters, digits, _ and .")
REWARD_NAME = Text(100, 1)
REWARD_DESCRIPTION = Text(2000, multiline=True)
REWARD_IMAGE = Text(200)
PICKUP_CODE = Text(32, 1)
STOCK_REASON = Text(200, 1)
