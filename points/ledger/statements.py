"""A member's points history as they read it: each ledger line in one language and in plain words (the
item or reward it was for, and why a report earned less), built from the transfer's code and reference,
never from the bilingual text the ledger keeps for the audit trail."""

from __future__ import annotations

from typing import Any

from points.infra.db import marks, sql
from points.vocabulary import TransferCode, parse_ref
from points.wording import pair
from rules import Rules

_IN = {"zh": 0, "en": 1}


async def described(rules: Rules, rows: list[dict[str, Any]], lang: str) -> list[dict[str, Any]]:
    """`rows` from ledger.history, each with `words`: what it was, in `lang` (zh or en)."""
    pick = _IN.get(lang, 0)
    refs = [(row, parse_ref(row["ref"] or "")) for row in rows]
    sids = sorted({ref.id for _, ref in refs if ref and ref.kind == "submission"})
    oids = sorted({ref.id for _, ref in refs if ref and ref.kind == "order"})
    reports = {r["id"]: r for r in await sql(
        f"SELECT id, item_id, units, award_note FROM submission WHERE id IN ({marks(sids)})", *sids)} if sids else {}
    orders = {o["id"]: o for o in await sql(
        "SELECT o.id, r.name_zh, r.name_en FROM redemption o JOIN reward r ON r.id = o.reward "
        f"WHERE o.id IN ({marks(oids)})", *oids)} if oids else {}

    def item_name(item_id: str) -> str:
        item = rules.item(item_id)
        return (item.name_zh, item.name_en)[pick] if item else item_id

    def words(row: dict[str, Any], ref: Any) -> str:
        code = row["code"]
        if ref and ref.kind == "submission" and ref.id in reports:
            report = reports[ref.id]
            item = item_name(report["item_id"]) + (f" ×{report['units']}" if report["units"] > 1 else "")
            if code == TransferCode.AWARD:
                note = report["award_note"]
                return item + (f"({pair('award_note', note)[pick]})" if note else "")
            if code == TransferCode.REVERSAL:
                return pair("ledger", "reversal_of", item=item)[pick]
        if ref and ref.kind == "order" and ref.id in orders:
            reward = (orders[ref.id]["name_zh"], orders[ref.id]["name_en"])[pick]
            return pair("ledger", code, reward=reward)[pick]
        if code == TransferCode.DEDUCTION:
            return pair("ledger", code, item=item_name((row["ref"] or "").split(":")[-1]))[pick]
        if code == TransferCode.REVERSAL and ref and ref.kind == "member":  # a deduction given back (an appeal)
            return pair("ledger", "deduction_returned", item=item_name((row["ref"] or "").split(":")[-1]))[pick]
        return pair("ledger", code, item="", reward="")[pick]

    return [{**row, "words": words(row, ref)} for row, ref in refs]
