"""The rules file: the default scheme, and a clear message for every kind of mistake."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from conftest import ROOT, python
from rules import RulesError, load_rules, parse_rules

pytestmark = pytest.mark.pure  # no server, no database: the embedded leg runs it

DEFAULT = ROOT / "rules" / "default.toml"

GOOD_ITEM = """
[[item]]
id = "a.one"
category = "a"
name_zh = "一"
name_en = "One"
points = 5
who = "both"
evidence = { photos = 1, location = true, description = false }
daily_cap = 2
monthly_cap = 10
verification = "desk"
priority = "P3"
"""
HEAD = """
[scheme]
id = "t"
name_zh = "测试"
name_en = "Test"
timezone = "Asia/Shanghai"
daily_cap = 100
monthly_cap = 1000
[scheme.duplicates]
distance_m = 50
window_hours = 72
[[category]]
id = "a"
name_zh = "甲"
name_en = "A"
"""


def test_default_scheme_has_4_categories_and_45_items():
    rules = load_rules(DEFAULT)
    assert [c.id for c in rules.categories] == ["hazard", "order", "civic", "service"]
    assert len(rules.items) == 45
    assert Counter(i.category for i in rules.items) == {"hazard": 12, "order": 12, "civic": 8, "service": 13}
    assert len({i.id for i in rules.items}) == 45
    assert all(i.id.isascii() and i.name_zh and i.name_en for i in rules.items)
    deductions = [i for i in rules.items if i.points < 0]
    assert len(deductions) == 5 and not any(i.reportable for i in deductions)
    assert (rules.daily_cap, rules.monthly_cap, rules.first_reporter_only) == (150, 1200, True)
    assert (rules.duplicates.distance_m, rules.duplicates.window_hours) == (50, 72)


def test_a_good_small_file_loads():
    rules = parse_rules(HEAD + GOOD_ITEM, "small.toml")
    assert rules.item("a.one").evidence.photos == 1
    assert rules.item("a.one").roles == ("rider", "resident")


@pytest.mark.parametrize(("change", "expected"), [
    (('category = "a"', 'category = "zzz"'), "item 'a.one', field 'category': unknown category 'zzz'"),
    (('daily_cap = 2', 'daily_cap = -2'), "item 'a.one', field 'daily_cap': must not be negative"),
    (('name_zh = "一"\n', ''), "item 'a.one', field 'name_zh': is missing"),
    (('name_zh = "一"', 'name_zh = ""'), "item 'a.one', field 'name_zh': must be non-empty text"),
    (('description = false }', 'description = false, video = true }'),
     "item 'a.one', field 'evidence': unknown evidence kind 'video'"),
    (('who = "both"', 'who = "everyone"'), "item 'a.one', field 'who': must be one of rider, resident, both"),
    (('verification = "desk"', 'verification = "trust"'), "item 'a.one', field 'verification': must be one of"),
    (('priority = "P3"', 'priority = "P9"'), "item 'a.one', field 'priority': must be one of"),
    (('points = 5', 'points = "five"'), "item 'a.one', field 'points': must be a whole number"),
    (('points = 5', 'points = 0'), "item 'a.one', field 'points': must not be 0"),
    (('points = 5', 'points = -5'), "item 'a.one', field 'reportable': a deduction"),
    (('monthly_cap = 10\n', 'monthly_cap = 1\n'), "item 'a.one', field 'monthly_cap': is less than daily_cap"),
    (('id = "a.one"', 'id = "A One"'), "item 'A One', field 'id': must look like category.name"),
    (('id = "a.one"', 'id = "a.一"'), "item 'a.一', field 'id': must be ASCII"),
    (('priority = "P3"', 'priority = "P3"\ncolour = "red"'), "item 'a.one', field 'colour': unknown field"),
    (('photos = 1', 'photos = 99'), "item 'a.one', evidence, field 'photos': must be at most 6"),
])
def test_each_mistake_names_the_file_item_and_field(change, expected):
    old, new = change
    text = HEAD + GOOD_ITEM
    assert text.count(old) == 1
    with pytest.raises(RulesError) as caught:
        parse_rules(text.replace(old, new, 1), "mine.toml")
    message = str(caught.value)
    assert f"mine.toml: {expected}" in message, message


def test_duplicate_ids_and_scheme_level_mistakes():
    text = (HEAD + GOOD_ITEM + GOOD_ITEM).replace('timezone = "Asia/Shanghai"', 'timezone = "Mars/Olympus"')
    with pytest.raises(RulesError) as caught:
        parse_rules(text, "dup.toml")
    problems = caught.value.problems
    assert "item 'a.one', field 'id': duplicate item id" in problems
    assert "[scheme], field 'timezone': unknown time zone 'Mars/Olympus'" in problems


def test_not_toml_at_all():
    with pytest.raises(RulesError, match=r"broken.toml: not valid TOML: .*line 1"):
        parse_rules("[scheme\nid = 1", "broken.toml")


def test_check_command_exit_codes(tmp_path: Path):
    good = python("-m", "rules", "check", str(DEFAULT))
    assert good.returncode == 0
    assert "4 categories, 45 items (hazard 12, order 12, civic 8, service 13)" in good.stdout
    bad_file = tmp_path / "bad.toml"
    bad_file.write_text(DEFAULT.read_text().replace('category = "civic"', 'category = "civics"', 1))
    bad = python("-m", "rules", "check", str(bad_file))
    assert bad.returncode == 1
    assert f"{bad_file}: item 'civic.dispute_lead', field 'category': unknown category 'civics'" in bad.stderr


def test_version_is_a_content_hash():
    text = DEFAULT.read_text()
    assert parse_rules(text).version == load_rules(DEFAULT).version
    assert parse_rules(text.replace("daily_cap = 150", "daily_cap = 160")).version != load_rules(DEFAULT).version
