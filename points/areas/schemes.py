"""The schemes in force: the deployment's default (the rules file JIFEN_RULES names, loaded once) and each
community's own, when an admin has given it one.

Every rules file any process has run with, or an admin has given a community, is stored by its version
(`rules_version`), so an award made under an older file can still be explained. A community's scheme is
the stored version its row names; changing it is an admin action with an audit row, checked by the same
checker as the file, and takes effect without a restart: each request reads its community's version (the
version's name, not its text, read with the session's member row), and a version's parsed rules are kept in
the process.
"""

from __future__ import annotations

from points import audit, clock, scope
from points.errors import Invalid, NotFound
from points.infra.config import settings
from points.infra.db import sql, write
from points.scope import Actor
from points.tables import RulesVersion
from rules import Rules, RulesError, load_rules, parse_rules

_current: Rules | None = None
_parsed: dict[str, Rules] = {}


def current() -> Rules:
    """The deployment's default scheme."""
    global _current
    if _current is None:
        _current = load_rules(settings().rules_path)
    return _current


async def _parsed_version(version: str | None) -> Rules:
    """A stored version's rules, parsed once per process; its text is read only the first time."""
    if not version:
        return current()
    if version not in _parsed:
        rows = await sql("SELECT content FROM rules_version WHERE version = {}", version)
        if not rows:
            return current()
        _parsed[version] = parse_rules(rows[0]["content"], f"rules_version:{version}")
    return _parsed[version]


# The version community `c` runs: its own, else the template of the nearest area above it that has one, else
# '' (the default scheme).
VERSION_IN_FORCE = ("COALESCE(NULLIF(c.rules_version, ''), (SELECT t.rules_version FROM area a JOIN area t "
                    "ON a.path LIKE t.path || '%' WHERE a.id = c.area AND t.rules_version <> '' "
                    "ORDER BY LENGTH(t.path) DESC LIMIT 1), '')")
IN_FORCE = f"SELECT c.id, {VERSION_IN_FORCE} AS version FROM community c"


async def for_community(community_id: int) -> Rules:
    """The scheme a community runs: its own, else its street's (or district's) template, else the default."""
    rows = await sql(IN_FORCE + " WHERE c.id = {}", community_id)
    return await _parsed_version(rows[0]["version"] if rows else None)


async def for_actor(actor: Actor) -> Rules:
    """The scheme of the actor's community: as read with the actor when the request began (a signed-in
    session's member row carries it), else read now."""
    if actor.scheme is not None:
        return await _parsed_version(actor.scheme)
    return await for_community(actor.community_id)


async def by_community() -> dict[int, Rules]:
    """Every community's scheme, for the jobs that work across communities."""
    return {r["id"]: await _parsed_version(r["version"]) for r in await sql(IN_FORCE + " ORDER BY c.id")}


async def groups() -> list[tuple[Rules, list[int]]]:
    """The communities grouped by the scheme they run (most run the default): what the sweep works through."""
    grouped: dict[str, tuple[Rules, list[int]]] = {}
    for community, rules in (await by_community()).items():
        grouped.setdefault(rules.version, (rules, []))[1].append(community)
    return list(grouped.values())


def checked_rules(content: str) -> Rules:
    """A rules file given as text, checked as `./dev check-rules` checks one; 400 naming field `content`, with
    every problem in `problems_found`."""
    try:
        return parse_rules(content, "rules")
    except RulesError as exc:
        raise Invalid("invalid_rules", f"the rules file has {len(exc.problems)} problem(s)", field="content",
                      problems_found=exc.problems) from None


async def set_for_community(actor: Actor | None, community_id: int, content: str) -> Rules:
    """An admin (or the operator, `actor` None: the CLI) gives a community a scheme of its own (the whole rules
    file): checked, stored, in force from the next request; every problem named (400, field `content`)."""
    if actor is not None:
        scope.require_admin(actor, "change a community's scheme")
    rules = checked_rules(content)

    async def run() -> None:
        rows = [await scope.community(actor, community_id)] if actor is not None else await sql(
            "SELECT rules_version FROM community WHERE id = {}", community_id)
        if not rows:
            raise NotFound("community")
        await record_version(rules, f"community:{community_id}")
        await sql("UPDATE community SET rules_version = {} WHERE id = {}", rules.version, community_id)
        await audit.record(actor.id if actor else None, "community.scheme", "community", community_id, community_id,
                           {"from": rows[0]["rules_version"] or current().version, "to": rules.version,
                            "scheme": rules.id})

    await write(run)
    return rules


async def set_for_area(area_id: int, content: str) -> Rules:
    """The operator publishes a street's (or district's) template scheme: its communities without a scheme of
    their own run it from the next request; checked like any rules file."""
    rules = checked_rules(content)

    async def run() -> None:
        await record_version(rules, f"area:{area_id}")
        await sql("UPDATE area SET rules_version = {} WHERE id = {}", rules.version, area_id)
        await audit.record(None, "area.scheme", "area", area_id, None, {"to": rules.version, "scheme": rules.id})

    await write(run)
    return rules


async def record_version(rules: Rules, path: str | None = None) -> None:
    await RulesVersion.insert(RulesVersion(
        version=rules.version, path=(path or rules.path)[-200:], content=rules.content, first_seen_at=clock.now(),
    )).on_conflict(target=RulesVersion.version, action="DO NOTHING")


async def stored_version(version: str) -> str | None:
    row = await RulesVersion.select(RulesVersion.content).where(RulesVersion.version == version).first()
    return row["content"] if row else None
