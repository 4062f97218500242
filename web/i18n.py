"""Page translations: message ids are English; a gettext catalogue per language maps them
(web/locale/LANG/LC_MESSAGES/messages.po, extracted and updated with Babel: see `./dev messages`).

Chinese (zh) is the default; a visitor switches with /lang/en or /lang/zh (kept in a cookie). An id
missing from a catalogue shows as itself, and a test runs Babel's extraction to find any message the pages
use that the Chinese catalogue lacks, and any entry nothing uses any more.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from rules.po import translations

LANGS = ("zh", "en")
DEFAULT = "zh"
COOKIE = "lang"
LOCALE = Path(__file__).parent / "locale"
DOMAIN = "messages"
CATALOGUES: dict[str, dict[str, str]] = {
    lang: translations(LOCALE / lang / "LC_MESSAGES" / f"{DOMAIN}.po") for lang in LANGS}


def N_(message: str) -> str:
    """Marks a message for extraction (Babel) where it is chosen, to be translated where it is shown."""
    return message


def choose(cookies: dict[str, str]) -> str:
    lang = cookies.get(COOKIE, DEFAULT)
    return lang if lang in LANGS else DEFAULT


class _Kept(dict):
    """Placeholders without a value stay as they are ("{max}"), never a KeyError on a page."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def translator(lang: str) -> Callable[..., str]:
    catalogue = CATALOGUES[lang]

    def _(message: str, /, **values: Any) -> str:
        text = catalogue.get(message, message)
        return text.format_map(_Kept(values)) if values else text

    return _


def localiser(lang: str) -> Callable[[Any, str], str]:
    """`loc(thing, "name")`: a rules or catalogue object's name_zh or name_en, as the page's language."""

    def loc(thing: Any, field: str = "name") -> str:
        key = f"{field}_{lang}"
        value = thing.get(key) if isinstance(thing, dict) else getattr(thing, key, None)
        if not value:
            value = thing.get(f"{field}_zh") if isinstance(thing, dict) else getattr(thing, f"{field}_zh", "")
        return value or ""

    return loc
