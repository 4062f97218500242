"""Reading gettext catalogues (.po files, as Babel and every translator's tool keep them) into plain
{msgid: translation} maps: an untranslated or fuzzy entry is left out, so its msgid shows instead."""

from __future__ import annotations

from pathlib import Path

from babel.messages.pofile import read_po


def translations(path: Path) -> dict[str, str]:
    """The translated, non-fuzzy entries of one .po file ({} if the file does not exist)."""
    if not path.exists():
        return {}
    with path.open("rb") as f:
        catalogue = read_po(f)
    return {m.id: m.string for m in catalogue if m.id and isinstance(m.id, str) and m.string and not m.fuzzy}
