"""Personal information: how it is shown (masked), exported and erased.

Phone numbers appear in full only to their owner and to staff of the
member's community who ask for one to call (an audited action); everywhere
else, logs included, they are masked as 138****1234. Precise coordinates are
for the reporter's community staff; anyone else sees them rounded to 3
decimals (about 100 m).
"""

from __future__ import annotations

import re

PUBLIC_DECIMALS = 3
_PLACEHOLDER = re.compile(r"^(svc|deleted):")


def mask_phone(phone: str | None) -> str:
    """+8613812341234 → 138****1234; placeholders (service accounts, deleted members) → ''."""
    if not phone or _PLACEHOLDER.match(phone):
        return ""
    digits = phone.removeprefix("+86") if phone.startswith("+86") else phone
    if len(digits) < 7:
        return "*" * len(digits)
    return f"{digits[:3]}****{digits[-4:]}"


def coarse(value: float | None) -> float | None:
    return None if value is None else round(value, PUBLIC_DECIMALS)


def deleted_phone(member_id: int) -> str:
    return f"deleted:{member_id}"

