"""Every message a person reads has every placeholder filled: each message of the pages' and the domain's
catalogues (Chinese and English) names only values the code gives it, both languages of a message name the same
ones, and rendered with sample values none is left as "{…}". (What a refused page form shows, with its values,
is tested where it is refused: test_tasks.py.)"""

from __future__ import annotations

import re
import string

import pytest

from points.infra.config import ROOT
from rules.po import translations

pytestmark = pytest.mark.pure  # no server, no database: the embedded leg runs it

CATALOGUES = {"web": ROOT / "web" / "locale", "points": ROOT / "points" / "locale"}
FILES = {"web": "messages.po", "points": "domain.po"}
# The values the code passes to messages, with a sample of each (a new placeholder must be added here, and given
# by the code wherever its message is shown).
SAMPLES = {"n": 3, "unit": "华冠物业", "date": "2026-12-07", "max": 200, "m": 30, "reward": "爱心餐券", "item": "消防通道堵塞",
           "days": 7, "taken": "2026-12-07 08:14", "points": 20, "price": 50, "min": 1, "left": 2, "code": "r.meal",
           "case": 12, "time": "08:30", "slots": 20, "at": "08:30", "title": "周末清理楼道杂物", "retry_after": 30,
           "reason": "不属实", "opens": "08:00", "metres": 140, "line": 3, "field": "description", "cap": 5, "id": 12,
           "ends": "12-07 17:00", "present": 2, "grid": "G3",
           "month": "2026-11"}


def messages(area: str, lang: str) -> dict[str, str]:
    return translations(CATALOGUES[area] / lang / "LC_MESSAGES" / FILES[area])


def names(text: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(text) if field}


@pytest.mark.parametrize("area", CATALOGUES)
def test_both_languages_of_a_message_name_the_same_values(area):
    zh, en = messages(area, "zh"), messages(area, "en")
    differ = {key: (names(zh[key]), names(en[key])) for key in zh.keys() & en.keys()
              if zh[key] and en[key] and names(zh[key]) != names(en[key])}
    assert not differ, differ


@pytest.mark.parametrize(("area", "lang"), [(a, lang) for a in CATALOGUES for lang in ("zh", "en")])
def test_every_message_renders_with_nothing_left_over(area, lang):
    unknown, left = {}, {}
    for key, text in messages(area, lang).items():
        if missing := names(text) - SAMPLES.keys():
            unknown[key] = missing
            continue
        shown = text.format(**SAMPLES)
        if re.search(r"\{[^}]*\}", shown):
            left[key] = shown
    assert not unknown, f"placeholders the code gives no value for: {unknown}"
    assert not left, left
