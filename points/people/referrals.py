"""推荐: a member's code to share, a new member registering with it, and the referral's reward.

Each member may have one code (made when first asked for; unique by an index). A new member who registers
with a code is referred by its holder: an active member of the same community, never themselves. When the
new member's first report of a problem (a reportable item, not a duplicate) is awarded, the award path files
one verified report of `service.referral` for the referrer, keyed `vocabulary.referral_key(new member)`, so
it is paid once whatever happens next (capped by the item's own caps, like any award). A scheme without the
item pays nothing."""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import urlencode

from points.errors import Invalid, checked
from points.infra.db import marks, sql, write
from points.reports.filing import file_verified
from points.scope import Actor
from points.vocabulary import MemberStatus, referral_key
from rules import Rules, fields
from rules.loader import REFERRAL_ITEM

ITEM = REFERRAL_ITEM
ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # fields.REFERRAL_CODE's letters: none to misread
LENGTH = 6


async def code_of(actor: Actor) -> str:
    """The member's code to share, made the first time it is asked for."""
    for _ in range(8):
        rows = await sql("SELECT referral_code FROM member WHERE id = {}", actor.id)
        if rows and rows[0]["referral_code"]:
            return rows[0]["referral_code"]
        code = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
        try:
            await write(lambda code=code: sql("UPDATE member SET referral_code = {} WHERE id = {} "
                                              "AND referral_code IS NULL RETURNING id", code, actor.id))
        except Exception as exc:  # another member holds it (the unique index): draw again
            if "unique" not in str(exc).lower():
                raise
    raise RuntimeError("no free referral code after 8 draws")


async def referrer(code: str, community_id: int) -> int:
    """The member a registration's code names: active, of the same community; else 400 naming the field."""
    code = checked(fields.REFERRAL_CODE, "referral_code", code.strip().upper())
    rows = await sql("SELECT id FROM member WHERE referral_code = {} AND community = {} AND status = {}",
                     code, community_id, MemberStatus.ACTIVE)
    if not rows:
        raise Invalid("unknown_referral", "no member of this community has this referral code",
                      field="referral_code")
    return rows[0]["id"]


async def reward(rules: Rules, reports: list[dict[str, Any]]) -> None:
    """In the award transaction: for each newly awarded report (`member`, `item_id`, `local_day`) of a member
    someone referred, the referrer's reward, filed once."""
    item = rules.item(ITEM)
    counted = [r for r in reports if (i := rules.item(r["item_id"])) is not None and i.reportable]
    if item is None or not counted:
        return
    members = sorted({r["member"] for r in counted})
    referred = {m["id"]: m for m in await sql(
        f"SELECT m.id, m.referred_by, r.community FROM member m JOIN member r ON r.id = m.referred_by "
        f"WHERE m.id IN ({marks(members)}) AND r.status = {{}} AND r.id <> m.id", *members, MemberStatus.ACTIVE)}
    for report in counted:
        who = referred.get(report["member"])
        if who is not None:
            await file_verified(rules, who["referred_by"], who["community"], item, 1, "", "", report["local_day"],
                                referral_key(report["member"]), None, "referral")


async def invitation(actor: Actor, base_url: str) -> dict[str, str]:
    """What a member shares: their code, and the registration page's address with it and their community."""
    code = await code_of(actor)
    community = (await sql("SELECT code FROM community WHERE id = {}", actor.community_id))[0]["code"]
    return {"code": code, "link": f"{base_url.rstrip('/')}/register?{urlencode({'ref': code, 'community': community})}"}
