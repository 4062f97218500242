"""Keeping the page catalogues in step with the pages, with Babel: `extracted()` finds every message the
templates and page code use (`_("…")`, `N_("…")`, `{% trans %}`); `problems()` is what the tests check (a
message the Chinese catalogue lacks, an entry nothing uses any more, a code without English); `update()`
(`./dev messages`) writes web/locale/messages.pot and merges it into each language's messages.po.

Message codes (`status.awarded`, `error.sold_out`) are looked up by computed names, so extraction cannot
see them: the Chinese catalogue declares them, and the template keeps them."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

from web.i18n import CATALOGUES, DOMAIN, LANGS, LOCALE

ROOT = Path(__file__).resolve().parent.parent
METHODS = [("web/**.py", "python"), ("web/templates/**.html", "jinja2")]
OPTIONS = {"web/templates/**.html": {"extensions": "jinja2.ext.i18n"}}
KEYWORDS = {"_": None, "N_": None, "gettext": None, "ngettext": (1, 2)}
CODE = re.compile(r"^[a-z_]+\.[\w.{}]+$")  # a message code, not an English message


def extracted() -> dict[str, str]:
    """Every message the pages use literally, with where it is first used."""
    found: dict[str, str] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(str(ROOT), METHODS, OPTIONS, KEYWORDS):
        for one in message if isinstance(message, tuple) else (message,):
            if one:
                found.setdefault(one, f"{filename}:{lineno}")
    return found


def problems() -> dict[str, list[str]]:
    used, zh, en = extracted(), CATALOGUES["zh"], CATALOGUES["en"]
    return {
        "missing in zh": sorted(m for m in used if m not in zh),
        "unused": sorted(m for m in zh if m not in used and not CODE.match(m)),
        "codes without English": sorted(m for m in zh if CODE.match(m) and m not in en),
    }


def update() -> None:
    """Extract into the template, then merge it into every language's catalogue (an entry no longer used is
    kept as obsolete, `#~`, as gettext's tools do)."""
    template = Catalog(project="Jifen", domain=DOMAIN, charset="utf-8")
    for message, where in extracted().items():
        path, _, line = where.rpartition(":")
        template.add(message, locations=[(path, int(line))])
    for code in (m for m in CATALOGUES["zh"] if CODE.match(m)):
        template.add(code)
    with (LOCALE / f"{DOMAIN}.pot").open("wb") as f:
        write_po(f, template, width=120, omit_header=True)
    for lang in LANGS:
        path = LOCALE / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
        with path.open("rb") as f:
            catalogue = read_po(f, locale=None)
        catalogue.update(template, no_fuzzy_matching=True)
        with path.open("wb") as f:
            write_po(f, catalogue, width=120, include_previous=False)


if __name__ == "__main__":
    update()
    for kind, messages in problems().items():
        for message in messages:
            print(f"{kind}: {message}")
