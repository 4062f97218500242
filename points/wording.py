"""The domain's bilingual wording: outcomes of reports (the API sends both languages), the reasons written
on ledger transfers ("中文 / English"), the lines of a points history, the SMS login code, the name a deleted
member is left with. It lives in gettext catalogues, points/locale/{zh,en}/LC_MESSAGES/domain.po, one
msgid per message ("section.key"); no Chinese text lives in Python."""

from __future__ import annotations

from pathlib import Path

from rules.po import translations

LOCALE = Path(__file__).parent / "locale"
ZH, EN = (translations(LOCALE / lang / "LC_MESSAGES" / "domain.po") for lang in ("zh", "en"))
WORDING: dict[str, dict[str, list[str]]] = {}
for _msgid in ZH:
    _section, _, _key = _msgid.partition(".")
    WORDING.setdefault(_section, {})[_key] = [ZH[_msgid], EN.get(_msgid, _msgid)]


def pair(section: str, key: str, **values: str) -> tuple[str, str]:
    """(Chinese, English) for one message; a key not in the catalogues comes back as itself, twice."""
    zh, en = WORDING.get(section, {}).get(key, [key, key])
    return zh.format(**values), en.format(**values)


def both(section: str, key: str, **values: str) -> str:
    """"中文 / English", as the ledger writes its reasons."""
    return " / ".join(pair(section, key, **values))
