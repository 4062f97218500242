"""Load and validate a rules file (TOML) into typed, immutable objects.

Pure Python, no database. Every problem found is reported, each naming the
file, the item (or section) and the field, so a scheme author can fix a file
in one pass. The version is a hash of the file's bytes: the same file always
has the same version, and any edit gives a new one.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from rules.fields import Text

ROLES = ("rider", "resident")
WHO = {"rider": ("rider",), "resident": ("resident",), "both": ("rider", "resident")}
VERIFICATION = ("desk", "onsite", "auto")
# Items nobody reports and no staff member records: the engine applies them itself, each on one path. An item
# `verification = "auto"` and `reportable = false` must be one of these — else the published scheme would
# promise points (or a penalty) that nothing ever gives.
REFERRAL_ITEM = "service.referral"  # points/people/referrals.py: a referred member's first verified report
SPAM_ITEM = "penalty.spam_duplicates"  # points/reports/spam.py: the sweep, once per member-day
NO_SHOW_ITEM = "penalty.no_show"  # points/tasks/attendance.py: the sweep, once per sign-up never checked in
ENGINE_ITEMS = (REFERRAL_ITEM, SPAM_ITEM, NO_SHOW_ITEM)
PRIORITIES = ("P1", "P2", "P3")
EXPIRY_POLICIES = ("never", "after_days", "end_of_next_year")
EVIDENCE_KINDS = ("photos", "location", "description")
MAX_PHOTOS_PER_ITEM = 6
ITEM_ID = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
CATEGORY_ID = re.compile(r"^[a-z][a-z0-9_]*$")


class RulesError(ValueError):
    """A rules file that cannot be used; `problems` lists every reason."""

    def __init__(self, path: Path | str, problems: list[str]):
        self.path = str(path)
        self.problems = problems
        super().__init__("\n".join(f"{self.path}: {p}" for p in problems))


@dataclass(frozen=True)
class Evidence:
    photos: int = 0
    location: bool = False
    description: bool = False


@dataclass(frozen=True)
class Category:
    id: str
    name_zh: str
    name_en: str
    daily_cap: int | None = None
    monthly_cap: int | None = None
    case: bool = False  # whether its items' verified reports open a case (交办 → 处置 → 复查 → 办结) …
    handled_by: str = ""  # … and the kind of unit (处置单位) they go to by default


@dataclass(frozen=True)
class Item:
    id: str
    category: str
    name_zh: str
    name_en: str
    points: int
    who: str
    evidence: Evidence
    verification: str
    priority: str
    daily_cap: int | None = None
    monthly_cap: int | None = None
    reportable: bool = True
    unit: str = ""
    max_units: int = 1
    case: bool = False  # a verified report of it opens a case
    handled_by: str = ""  # the kind of unit its case goes to by default

    @property
    def roles(self) -> tuple[str, ...]:
        return WHO[self.who]

    @property
    def is_deduction(self) -> bool:
        return self.points < 0


@dataclass(frozen=True)
class Duplicates:
    distance_m: int
    window_hours: int
    spam_per_day: int  # this many reports of one problem by one member on one day: penalty.spam_duplicates
    appeal_days: int = 7  # that penalty may be appealed this many days after it was given


@dataclass(frozen=True)
class PhotoChecks:
    """When staff are warned about a report's photo: its GPS this far from the claimed place, or taken
    this long before the report."""
    distance_m: int
    age_hours: int


@dataclass(frozen=True)
class Batch:
    """Staff may approve many simple reports at once: desk-checked items worth at most `max_points`, with
    nothing flagged; such an approval can be undone for `undo_minutes`, and is awarded after that."""
    max_points: int  # 0: no batch approval
    undo_minutes: int


@dataclass(frozen=True)
class Deadline:
    """How long a unit has from dispatch to disposal: round-the-clock hours (urgent) or working days, and the
    hard limit no extension passes."""
    hours: int = 0
    working_days: int = 0
    hard_hours: int = 0
    hard_working_days: int = 0


@dataclass(frozen=True)
class UnitKind:
    id: str
    name_zh: str
    name_en: str


@dataclass(frozen=True)
class Cases:
    """The case workflow's rules: deadlines by priority, the kinds of unit, and how long a unit may return a
    case as not theirs and a reporter may rate the outcome."""
    deadlines: dict[str, Deadline]
    units: tuple[UnitKind, ...]
    return_working_days: int = 2
    rate_days: int = 7


@dataclass(frozen=True)
class Tasks:
    """[tasks]: how presence at a task (志愿活动, 巡查任务) is checked, and how long a no-show may appeal."""

    code_seconds: int = 30  # the site's check-in code changes this often (a photo of it soon stops working)
    early_minutes: int = 15  # check-in opens this long before the start
    late_minutes: int = 30  # check-out and patrol photos are taken this long after the end; then no-shows count
    appeal_days: int = 7  # a no-show may be appealed this many days after it was recorded


@dataclass(frozen=True)
class Expiry:
    policy: str  # never | after_days | end_of_next_year
    days: int = 0


@dataclass(frozen=True)
class Honours:
    stars: tuple[int, ...]  # lifetime points for 1★, 2★, …
    board_size: int


@dataclass(frozen=True)
class Rules:
    path: str
    version: str
    content: str
    id: str
    name_zh: str
    name_en: str
    timezone: str
    daily_cap: int | None
    monthly_cap: int | None
    first_reporter_only: bool
    second_approval_over: int | None  # awards worth more need two different staff approvals (four-eyes)
    duplicates: Duplicates
    photo_checks: PhotoChecks
    batch: Batch
    cases: Cases
    tasks: Tasks
    pickup_days: int
    expiry: Expiry
    honours: Honours
    categories: tuple[Category, ...]
    items: tuple[Item, ...]
    _by_id: dict[str, Item] = field(default_factory=dict, repr=False, compare=False)
    _categories: dict[str, Category] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._by_id.update({i.id: i for i in self.items})
        self._categories.update({c.id: c for c in self.categories})

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def local_time(self, moment: datetime) -> datetime:
        """A moment as the scheme's clocks show it (a naive moment is taken as UTC)."""
        return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(self.tz)

    def local_date(self, moment: datetime) -> date:
        """The day `moment` falls on in the scheme's time zone (caps, boards and reports count local days)."""
        return moment.astimezone(self.tz).date()

    def item(self, item_id: str) -> Item | None:
        return self._by_id.get(item_id)

    def category(self, category_id: str) -> Category:
        return self._categories[category_id]


class Problem(str):
    """One problem found in a rules file, read as "where, field 'name': message"; the field and the
    message stay apart for callers that answer a request (the API names the field)."""

    field: str | None
    message: str

    def __new__(cls, where: str, field: str | None, message: str) -> Problem:
        problem = super().__new__(cls, f"{where}, field '{field}': {message}" if field else f"{where}: {message}")
        problem.field, problem.message = field, message
        return problem


class _Checker:
    """Reads fields from one TOML table, recording problems instead of raising."""

    def __init__(self, problems: list[str], where: str, table: Any, known: tuple[str, ...]):
        self.problems = problems
        self.where = where
        self.table = table if isinstance(table, dict) else {}
        if not isinstance(table, dict):
            self.fail("", "must be a table")
        for key in self.table:
            if key not in known:
                self.fail(key, f"unknown field (known: {', '.join(known)})")

    def fail(self, name: str, message: str) -> None:
        self.problems.append(Problem(self.where, name or None, message))

    def text(self, name: str, required: bool = True, ascii_only: bool = False, spec: Text | None = None) -> str:
        """A text field; `spec` (rules/fields.py) limits its length and characters."""
        value = self.table.get(name)
        if value is None:
            if required:
                self.fail(name, "is missing")
            return ""
        if not isinstance(value, str) or (required and not value.strip()):
            self.fail(name, "must be non-empty text")
            return ""
        if ascii_only and not value.isascii():
            self.fail(name, "must be ASCII")
        if spec is not None and (problem := spec.problem(value)):
            self.fail(name, problem[1])
            return ""
        return value

    def whole(self, name: str, default: int | None = None, low: int | None = None, high: int | None = None,
              required: bool = False) -> int | None:
        value = self.table.get(name)
        if value is None:
            if required:
                self.fail(name, "is missing")
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(name, f"must be a whole number, got {value!r}")
            return default
        if low is not None and value < low:
            self.fail(name, "must not be negative" if low == 0 or value < 0 else f"must be at least {low}")
            return default
        if high is not None and value > high:
            self.fail(name, f"must be at most {high}")
            return default
        return value

    def flag(self, name: str, default: bool) -> bool:
        value = self.table.get(name, default)
        if not isinstance(value, bool):
            self.fail(name, f"must be true or false, got {value!r}")
            return default
        return value

    def choice(self, name: str, choices: tuple[str, ...]) -> str:
        value = self.table.get(name)
        if value is None:
            self.fail(name, f"is missing (one of {', '.join(choices)})")
            return choices[0]
        if value not in choices:
            self.fail(name, f"must be one of {', '.join(choices)}, got {value!r}")
            return choices[0]
        return value


def _caps(c: _Checker) -> tuple[int | None, int | None]:
    daily = c.whole("daily_cap", low=1)
    monthly = c.whole("monthly_cap", low=1)
    if daily is not None and monthly is not None and monthly < daily:
        c.fail("monthly_cap", f"is less than daily_cap ({monthly} < {daily})")
    return daily, monthly


def parse_rules(text: str, path: Path | str = "<rules>") -> Rules:
    """A rules file's text as Rules, or RulesError naming every problem (section by section, in file order)."""
    problems: list[str] = []
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RulesError(path, [f"not valid TOML: {exc}"]) from None

    _Checker(problems, "top level", doc, ("scheme", "shop", "expiry", "honours", "cases", "tasks", "category",
                                                  "item"))
    scheme = _scheme(problems, doc.get("scheme"))
    cases = _cases(problems, doc.get("cases", {}))
    unit_kinds = {u.id for u in cases.units}
    tasks = _tasks(problems, doc.get("tasks", {}))
    shop = _Checker(problems, "[shop]", doc.get("shop", {}), ("pickup_days",))
    pickup_days = shop.whole("pickup_days", 7, low=1, high=90) or 7
    expiry = _expiry(problems, doc.get("expiry", {}))
    honours = _honours(problems, doc.get("honours", {}))
    categories = _categories(problems, doc.get("category", []), unit_kinds)
    items = _items(problems, doc.get("item", []), categories, unit_kinds)
    if problems:
        raise RulesError(path, problems)
    return Rules(
        path=str(path), version=rules_version(text.encode()), content=text, **scheme, cases=cases, tasks=tasks,
        pickup_days=pickup_days, expiry=expiry, honours=honours, categories=tuple(categories), items=tuple(items),
    )


def _scheme(problems: list[str], raw: Any) -> dict[str, Any]:
    """[scheme]: the scheme's name, time zone, caps, duplicates, photo checks and batch approval."""
    s = _Checker(problems, "[scheme]", raw, (
        "id", "name_zh", "name_en", "timezone", "daily_cap", "monthly_cap", "first_reporter_only", "duplicates",
        "second_approval_over", "photo_checks", "batch"))
    scheme_id = s.text("id", ascii_only=True)
    name_zh, name_en = s.text("name_zh"), s.text("name_en")
    timezone = s.text("timezone")
    if timezone:
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            s.fail("timezone", f"unknown time zone {timezone!r}")
            timezone = "UTC"
    daily_cap, monthly_cap = _caps(s)
    first_only = s.flag("first_reporter_only", True)
    second_approval_over = s.whole("second_approval_over", low=0)
    d = _Checker(problems, "[scheme.duplicates]", s.table.get("duplicates", {}), ("distance_m", "window_hours", "spam_per_day",
                                                                                     "appeal_days"))
    duplicates = Duplicates(
        distance_m=d.whole("distance_m", 50, low=1, high=100_000) or 50,
        window_hours=d.whole("window_hours", 72, low=1, high=24 * 366) or 72,
        spam_per_day=d.whole("spam_per_day", 3, low=2, high=100) or 3,
        appeal_days=d.whole("appeal_days", 7, low=1, high=90) or 7,
    )
    pc = _Checker(problems, "[scheme.photo_checks]", s.table.get("photo_checks", {}), ("distance_m", "age_hours"))
    photo_checks = PhotoChecks(
        distance_m=pc.whole("distance_m", 200, low=1, high=100_000) or 200,
        age_hours=pc.whole("age_hours", 24, low=1, high=24 * 366) or 24,
    )
    b = _Checker(problems, "[scheme.batch]", s.table.get("batch", {}), ("max_points", "undo_minutes"))
    batch = Batch(max_points=b.whole("max_points", 10, low=0, high=1_000_000),
                  undo_minutes=b.whole("undo_minutes", 2, low=1, high=1440) or 2)
    return {"id": scheme_id, "name_zh": name_zh, "name_en": name_en, "timezone": timezone, "daily_cap": daily_cap,
            "monthly_cap": monthly_cap, "first_reporter_only": first_only,
            "second_approval_over": second_approval_over, "duplicates": duplicates, "photo_checks": photo_checks,
            "batch": batch}


def _tasks(problems: list[str], raw: Any) -> Tasks:
    t = _Checker(problems, "[tasks]", raw, ("code_seconds", "early_minutes", "late_minutes", "appeal_days"))
    return Tasks(t.whole("code_seconds", 30, low=10, high=600) or 30, t.whole("early_minutes", 15, low=0, high=240),
                 t.whole("late_minutes", 30, low=0, high=24 * 60), t.whole("appeal_days", 7, low=1, high=90) or 7)


def _expiry(problems: list[str], raw: Any) -> Expiry:
    e = _Checker(problems, "[expiry]", raw, ("policy", "days"))
    policy = e.choice("policy", EXPIRY_POLICIES) if "policy" in e.table else "never"
    return Expiry(policy, e.whole("days", 0, low=1, high=3660, required=policy == "after_days") or 0)


def _honours(problems: list[str], raw: Any) -> Honours:
    h = _Checker(problems, "[honours]", raw, ("stars", "board_size"))
    stars = h.table.get("stars", [])
    if not isinstance(stars, list) or any(isinstance(x, bool) or not isinstance(x, int) or x < 1 for x in stars) \
            or list(stars) != sorted(set(stars)):
        h.fail("stars", "must be a list of rising whole numbers of lifetime points, e.g. [300, 1000, 3000]")
        stars = []
    return Honours(tuple(stars), h.whole("board_size", 10, low=1, high=100) or 10)


def _categories(problems: list[str], raw_categories: Any, unit_kinds: set[str]) -> list[Category]:
    categories: list[Category] = []
    if not isinstance(raw_categories, list) or not raw_categories:
        problems.append("[[category]]: at least one category is needed")
        raw_categories = []
    for n, raw in enumerate(raw_categories, 1):
        cid = raw.get("id") if isinstance(raw, dict) else None
        c = _Checker(problems, f"category '{cid}'" if cid else f"category #{n}", raw,
                     ("id", "name_zh", "name_en", "daily_cap", "monthly_cap", "case", "handled_by"))
        cid = c.text("id", ascii_only=True)
        if cid and not CATEGORY_ID.match(cid):
            c.fail("id", "must be lower-case ASCII letters, digits and _")
        if cid and any(x.id == cid for x in categories):
            c.fail("id", "duplicate category id")
        cat_zh, cat_en = c.text("name_zh"), c.text("name_en")
        cat_daily, cat_monthly = _caps(c)
        cat_case, cat_unit = c.flag("case", False), c.text("handled_by", required=False)
        if cat_unit and cat_unit not in unit_kinds:
            c.fail("handled_by", f"unknown unit kind {cat_unit!r} (the kinds are in [cases.units])")
        categories.append(Category(cid, cat_zh, cat_en, cat_daily, cat_monthly, cat_case, cat_unit))
    return categories


def _items(problems: list[str], raw_items: Any, categories: list[Category], unit_kinds: set[str]) -> list[Item]:
    category_ids = {c.id for c in categories}
    items: list[Item] = []
    seen: set[str] = set()
    if not isinstance(raw_items, list) or not raw_items:
        problems.append("[[item]]: at least one item is needed")
        raw_items = []
    for n, raw in enumerate(raw_items, 1):
        iid = raw.get("id") if isinstance(raw, dict) else None
        c = _Checker(problems, f"item '{iid}'" if iid else f"item #{n}", raw, (
            "id", "category", "name_zh", "name_en", "points", "who", "evidence", "daily_cap", "monthly_cap",
            "verification", "priority", "reportable", "unit", "max_units", "case", "handled_by"))
        iid = c.text("id", ascii_only=True)
        if iid and not ITEM_ID.match(iid):
            c.fail("id", "must look like category.name: lower-case ASCII letters, digits and _")
        if iid in seen:
            c.fail("id", "duplicate item id")
        seen.add(iid)
        category = c.text("category")
        if category and category not in category_ids:
            c.fail("category", f"unknown category {category!r}")
        points = c.whole("points", 0, low=-10_000, high=10_000, required=True) or 0
        if points == 0 and "points" in c.table:
            c.fail("points", "must not be 0")
        reportable = c.flag("reportable", True)
        if points < 0 and reportable:
            c.fail("reportable", "a deduction (negative points) is recorded by staff: set reportable = false")
        if c.table.get("verification") == "auto" and not reportable and iid not in ENGINE_ITEMS:
            c.fail("verification", "no path in the engine gives this item: members do not report it (reportable = "
                   "false) and staff do not record it (verification = \"auto\"); the engine applies only "
                   + ", ".join(ENGINE_ITEMS))
        unit = c.text("unit", required=False)
        max_units = c.whole("max_units", 1, low=1, high=24) or 1
        if max_units > 1 and not unit:
            c.fail("unit", "is needed when max_units is more than 1")
        evidence = _evidence(problems, c.where, c.table.get("evidence"))
        daily, monthly = _caps(c)
        parent = next((x for x in categories if x.id == category), None)
        opens_case = c.flag("case", parent.case if parent else False) and reportable
        handled_by = c.text("handled_by", required=False) or (parent.handled_by if parent else "")
        if handled_by and handled_by not in unit_kinds:
            c.fail("handled_by", f"unknown unit kind {handled_by!r} (the kinds are in [cases.units])")
        if opens_case and not handled_by:
            c.fail("handled_by", "an item that opens a case needs a unit kind (here or on its category)")
        items.append(Item(
            id=iid, category=category, name_zh=c.text("name_zh"), name_en=c.text("name_en"), points=points,
            who=c.choice("who", tuple(WHO)), evidence=evidence, verification=c.choice("verification", VERIFICATION),
            priority=c.choice("priority", PRIORITIES), daily_cap=daily, monthly_cap=monthly,
            reportable=reportable, unit=unit, max_units=max_units, case=opens_case, handled_by=handled_by,
        ))
    return items


DEFAULT_DEADLINES = {"P1": Deadline(hours=24, hard_hours=72), "P2": Deadline(working_days=3, hard_working_days=7),
                     "P3": Deadline(working_days=5, hard_working_days=15)}


def _cases(problems: list[str], raw: Any) -> Cases:
    """[cases]: deadlines per priority (hours or working days, each with its hard limit), the unit kinds."""
    c = _Checker(problems, "[cases]", raw if isinstance(raw, dict) else {},
                 ("deadlines", "units", "return_working_days", "rate_days"))
    deadlines = dict(DEFAULT_DEADLINES)
    for priority, spec in (c.table.get("deadlines") or {}).items():
        d = _Checker(problems, f"[cases.deadlines] {priority}", spec if isinstance(spec, dict) else {},
                     ("hours", "working_days", "hard_hours", "hard_working_days"))
        if priority not in PRIORITIES:
            d.fail("priority", f"must be one of {', '.join(PRIORITIES)}")
            continue
        one = Deadline(d.whole("hours", 0, low=0, high=24 * 31) or 0, d.whole("working_days", 0, low=0, high=60) or 0,
                       d.whole("hard_hours", 0, low=0, high=24 * 93) or 0,
                       d.whole("hard_working_days", 0, low=0, high=180) or 0)
        if bool(one.hours) == bool(one.working_days):
            d.fail("hours", "give either hours or working_days")
        elif one.hours and not one.hard_hours >= one.hours or one.working_days and not (
                one.hard_working_days >= one.working_days):
            d.fail("hard_hours" if one.hours else "hard_working_days", "the hard limit must be at least the deadline")
        deadlines[priority] = one
    units = []
    for kind, spec in (c.table.get("units") or {}).items():
        u = _Checker(problems, f"[cases.units] {kind}", spec if isinstance(spec, dict) else {}, ("name_zh", "name_en"))
        if not CATEGORY_ID.match(kind):
            u.fail("id", "must be lower-case ASCII letters, digits and _")
        units.append(UnitKind(kind, u.text("name_zh"), u.text("name_en")))
    return Cases(deadlines, tuple(units), c.whole("return_working_days", 2, low=1, high=30) or 2,
                 c.whole("rate_days", 7, low=1, high=90) or 7)


def _evidence(problems: list[str], where: str, raw: Any) -> Evidence:
    label = f"{where}, field 'evidence'"
    kinds = ", ".join(EVIDENCE_KINDS)
    if not isinstance(raw, dict):
        problems.append(f"{label}: {'is missing' if raw is None else 'must be a table'} (of {kinds})")
        return Evidence()
    for key in raw:
        if key not in EVIDENCE_KINDS:
            problems.append(f"{label}: unknown evidence kind {key!r} (known: {kinds})")
    known = {k: v for k, v in raw.items() if k in EVIDENCE_KINDS}
    e = _Checker(problems, f"{where}, evidence", known, EVIDENCE_KINDS)
    return Evidence(
        photos=e.whole("photos", 0, low=0, high=MAX_PHOTOS_PER_ITEM) or 0,
        location=e.flag("location", False),
        description=e.flag("description", False),
    )


def rules_version(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()[:16]


def load_rules(path: Path | str) -> Rules:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RulesError(path, [f"cannot read the file: {exc}"]) from None
    return parse_rules(text, path)
