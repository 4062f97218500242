"""What a member is told about a submission's result: a stable code and its
Chinese and English wording, for a rejection or for fewer points than the item's."""

from __future__ import annotations

from typing import Any

REJECT_REASONS = {
    "false": ("不属实", "Not true: the problem was not found"),
    "duplicate": ("重复上报", "Duplicate of an earlier report"),
    "unclear": ("证据不清", "Evidence unclear"),
    "out_of_area": ("不在本社区范围", "Outside the community"),
    "not_in_catalogue": ("不在积分目录内", "Not an item of the scheme"),
}

AWARD_NOTES = {
    "duplicate": ("同一问题已有他人先报,仅首报得分", "Someone reported this first; only the first report earns"),
    "cap.item_daily": ("已达该事项每日上限", "Daily limit for this item reached"),
    "cap.item_monthly": ("已达该事项每月上限", "Monthly limit for this item reached"),
    "cap.category_daily": ("已达该类别每日上限", "Daily limit for this category reached"),
    "cap.category_monthly": ("已达该类别每月上限", "Monthly limit for this category reached"),
    "cap.daily": ("已达每日积分上限", "Daily points limit reached"),
    "cap.monthly": ("已达每月积分上限", "Monthly points limit reached"),
    "item_withdrawn": ("该事项已从积分方案中移除", "This item is no longer in the scheme"),
}

PENDING = {
    "submitted": ("待社区核实", "Waiting for the community to check"),
    "awaiting_second": ("待第二位工作人员复核", "Waiting for a second staff member's approval"),
    "verified": ("已核实,积分发放中", "Verified; points on their way"),
}


def outcome(row: dict[str, Any]) -> dict[str, Any] | None:
    """The reason behind a submission's state, or None when it earned in full."""
    status = row["status"]
    if status == "rejected":
        code = row["reject_reason"]
        zh, en = REJECT_REASONS.get(code, (code, code))
        return {"code": f"rejected.{code}", "message_zh": zh, "message_en": en, "note": row["verify_note"] or ""}
    if status == "reversed":
        return {"code": "reversed", "message_zh": "奖励已撤销", "message_en": "The award was reversed",
                "note": row["reverse_reason"] or ""}
    if status in PENDING:
        zh, en = PENDING[status]
        return {"code": status, "message_zh": zh, "message_en": en, "note": ""}
    if status == "awarded" and row["award_note"]:
        code = row["award_note"]
        zh, en = AWARD_NOTES.get(code, (code, code))
        return {"code": code, "message_zh": zh, "message_en": en, "note": ""}
    return None
