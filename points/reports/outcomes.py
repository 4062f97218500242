"""What a member is told about a submission's result: a stable code and its
Chinese and English wording, for a rejection or for fewer points than the item's."""

from __future__ import annotations

from typing import Any

from points.vocabulary import SubmissionStatus
from points.wording import WORDING, pair

REJECT_REASONS = {code: tuple(words) for code, words in WORDING["reject"].items()}
AWARD_NOTES = {code: tuple(words) for code, words in WORDING["award_note"].items()}


def outcome(row: dict[str, Any]) -> dict[str, Any] | None:
    """The reason behind a submission's state, or None when it earned in full."""
    status = row["status"]
    if status == SubmissionStatus.REJECTED:
        code = row["reject_reason"]
        zh, en = REJECT_REASONS.get(code, (code, code))
        return {"code": f"rejected.{code}", "message_zh": zh, "message_en": en, "note": row["verify_note"] or ""}
    if status == SubmissionStatus.REVERSED:
        zh, en = pair("state", "reversed")
        return {"code": "reversed", "message_zh": zh, "message_en": en, "note": row["reverse_reason"] or ""}
    if status in (SubmissionStatus.SUBMITTED, SubmissionStatus.AWAITING_SECOND, SubmissionStatus.VERIFIED):
        zh, en = pair("state", status)
        return {"code": status, "message_zh": zh, "message_en": en, "note": ""}
    if status == SubmissionStatus.AWARDED and row["award_note"]:
        code = row["award_note"]
        zh, en = AWARD_NOTES.get(code, (code, code))
        return {"code": code, "message_zh": zh, "message_en": en, "note": ""}
    return None
