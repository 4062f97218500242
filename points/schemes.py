"""The scheme this process runs: the rules file named by JIFEN_RULES, loaded once.

Each version a process starts with is stored in the database, so an award made
under an older file can still be explained after the file changes.
"""

from __future__ import annotations

from points import clock
from points.config import settings
from points.tables import RulesVersion
from rules import Rules, load_rules

_current: Rules | None = None


def current() -> Rules:
    global _current
    if _current is None:
        _current = load_rules(settings().rules_path)
    return _current


async def record_version(rules: Rules) -> None:
    await RulesVersion.insert(RulesVersion(
        version=rules.version, path=rules.path[-200:], content=rules.content, first_seen_at=clock.now(),
    )).on_conflict(target=RulesVersion.version, action="DO NOTHING")


async def stored_version(version: str) -> str | None:
    row = await RulesVersion.select(RulesVersion.content).where(RulesVersion.version == version).first()
    return row["content"] if row else None
