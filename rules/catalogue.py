"""Load and validate a reward catalogue file (TOML), like the rules file.

Pure Python. Every problem names the file, the reward and the field.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from rules import fields
from rules.loader import ROLES, Problem, RulesError, _Checker

KINDS = ("goods", "service", "honour")
PERIODS = ("month", "quarter", "year")


@dataclass(frozen=True)
class Limit:
    count: int
    period: str


@dataclass(frozen=True)
class Reward:
    code: str
    name_zh: str
    name_en: str
    kind: str
    price: int
    stock: int
    description: str = ""
    image: str = ""
    limit: Limit | None = None
    roles: tuple[str, ...] = ROLES
    available_from: datetime | None = None
    available_until: datetime | None = None


@dataclass(frozen=True)
class Catalogue:
    path: str
    rewards: tuple[Reward, ...]


FIELDS = ("code", "name_zh", "name_en", "kind", "price", "stock", "description", "image", "limit", "roles",
          "available_from", "available_until")


def check_reward(problems: list[str], where: str, raw: Any) -> Reward:
    """One reward's fields, from a file or from the API; problems are appended, not raised."""
    c = _Checker(problems, where, raw, FIELDS)
    code = c.text("code", ascii_only=True, spec=fields.REWARD_CODE)
    limit = None
    if "limit" in c.table and not isinstance(c.table["limit"], dict):
        c.fail("limit", "must be a table of count and period")
    elif "limit" in c.table:
        lim = _Checker(problems, f"{where}, limit", c.table["limit"], ("count", "period"))
        limit = Limit(count=lim.whole("count", 1, low=fields.LIMIT_COUNT.low, high=fields.LIMIT_COUNT.high,
                                      required=True) or 1,
                      period=lim.choice("period", PERIODS))
    roles = c.table.get("roles", list(ROLES))
    if not isinstance(roles, list) or not roles or any(r not in ROLES for r in roles):
        c.fail("roles", f"must be a non-empty list of {', '.join(ROLES)}")
        roles = list(ROLES)
    window = []
    for name in ("available_from", "available_until"):
        value = c.table.get(name)
        if isinstance(value, str):  # JSON has no datetime type
            try:
                value = datetime.fromisoformat(value)
            except ValueError:
                pass
        if value is not None and not (isinstance(value, datetime) and value.tzinfo):
            c.fail(name, "must be a date and time with its zone, e.g. 2026-12-01T09:00:00+08:00")
            value = None
        window.append(value)
    if window[0] and window[1] and window[1] <= window[0]:
        c.fail("available_until", "must be after available_from")
    return Reward(
        code=code, name_zh=c.text("name_zh", spec=fields.REWARD_NAME), name_en=c.text("name_en", spec=fields.REWARD_NAME),
        kind=c.choice("kind", KINDS),
        price=c.whole("price", 1, low=fields.PRICE.low, high=fields.PRICE.high, required=True) or 1,
        stock=c.whole("stock", 0, low=fields.STOCK.low, high=fields.STOCK.high, required=True) or 0,
        description=c.text("description", required=False, spec=fields.REWARD_DESCRIPTION),
        image=c.text("image", required=False, spec=fields.REWARD_IMAGE),
        limit=limit, roles=tuple(roles), available_from=window[0], available_until=window[1],
    )


def parse_catalogue(text: str, path: Path | str = "<catalogue>") -> Catalogue:
    problems: list[str] = []
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RulesError(path, [f"not valid TOML: {exc}"]) from None
    _Checker(problems, "top level", doc, ("reward",))
    rewards: list[Reward] = []
    raw_rewards = doc.get("reward", [])
    if not isinstance(raw_rewards, list) or not raw_rewards:
        problems.append("[[reward]]: at least one reward is needed")
        raw_rewards = []
    for n, raw in enumerate(raw_rewards, 1):
        code = raw.get("code") if isinstance(raw, dict) else None
        reward = check_reward(problems, f"reward '{code}'" if code else f"reward #{n}", raw)
        if reward.code and any(r.code == reward.code for r in rewards):
            problems.append(Problem(f"reward '{reward.code}'", "code", "duplicate reward code"))
        rewards.append(reward)
    if problems:
        raise RulesError(path, problems)
    return Catalogue(path=str(path), rewards=tuple(rewards))


def load_catalogue(path: Path | str) -> Catalogue:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RulesError(path, [f"cannot read the file: {exc}"]) from None
    return parse_catalogue(text, path)
