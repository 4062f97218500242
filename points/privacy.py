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


# Full-width digits, plus, dashes and the ideographic space, read as their ASCII twins (one character for one,
# so a match in the read copy is the same span of the original).
_NARROW = str.maketrans({**{chr(0xFF10 + d): str(d) for d in range(10)}, "＋": "+", "－": "-", "—": "-", "．": ".",
                         "　": " ", "（": "(", "）": ")"})
_SEP = r"[ \-.()]{0,2}"
# A mobile number (with or without +86 / 0086 / 86 before it), or a landline with its area code (010-12345678,
# (0755) 1234 5678), digits split by spaces, dashes, dots or brackets however people write them.
_PHONES = re.compile(r"(?<![\d])(?:(?:\+|00)?86" + _SEP + r")?(?:1[3-9]\d(?:" + _SEP + r"\d){8}"
                     r"|\(?0[1-9]\d{1,2}\)?" + _SEP + r"\d{3,4}(?:" + _SEP + r"\d){4})(?![\d])")


def mask_phones(text: str) -> str:
    """Text made public (Open311 reads, the public pages) with every phone number in it masked, digit for digit,
    however it is written: 13812345678, +86 138 1234 5678, 138-1234-5678, 0086.138.1234.5678, full-width
    １３８１２３４５６７８, 010-12345678, (0755) 1234 5678."""
    narrow = text.translate(_NARROW)
    spans = [m.span() for m in _PHONES.finditer(narrow)]
    if not spans:
        return text
    out, last = [], 0
    for start, end in spans:
        out.append(text[last:start])
        out.append("".join("*" if ch.isdigit() else ch for ch in narrow[start:end]))
        last = end
    return "".join(out) + text[last:]


def coarse(value: float | None) -> float | None:
    return None if value is None else round(value, PUBLIC_DECIMALS)


def deleted_phone(member_id: int) -> str:
    return f"deleted:{member_id}"

