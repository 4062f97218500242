"""The domain's bilingual wording, read from points/wording.toml (no Chinese text lives in Python)."""

from __future__ import annotations

import tomllib
from pathlib import Path

WORDING: dict[str, dict[str, list[str]]] = tomllib.loads(
    (Path(__file__).parent / "wording.toml").read_text(encoding="utf-8"))


def pair(section: str, key: str, **values: str) -> tuple[str, str]:
    """(Chinese, English) for one message; a key not in the file comes back as itself, twice."""
    zh, en = WORDING[section].get(key, [key, key])
    return zh.format(**values), en.format(**values)


def both(section: str, key: str, **values: str) -> str:
    """"中文 / English", as the ledger writes its reasons."""
    return " / ".join(pair(section, key, **values))
