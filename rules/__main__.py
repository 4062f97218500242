"""`python -m rules check FILE…`: check rules or reward-catalogue files without starting anything (exit 0 or 1)."""

import sys
from collections import Counter
from pathlib import Path

from rules.catalogue import load_catalogue
from rules.loader import RulesError, load_rules


def _is_catalogue(path: str) -> bool:
    try:
        return "[[reward]]" in Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False  # the rules loader reports it


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[0] != "check":
        print("usage: python -m rules check FILE [FILE…]", file=sys.stderr)
        return 2
    status = 0
    for path in argv[1:]:
        try:
            if _is_catalogue(path):
                catalogue = load_catalogue(path)
                print(f"{path}: OK, reward catalogue: {len(catalogue.rewards)} rewards")
                continue
            rules = load_rules(path)
        except RulesError as exc:
            print(exc, file=sys.stderr)
            print(f"{path}: {len(exc.problems)} problem(s)", file=sys.stderr)
            status = 1
            continue
        per_category = Counter(item.category for item in rules.items)
        counts = ", ".join(f"{c.id} {per_category[c.id]}" for c in rules.categories)
        print(f"{path}: OK, scheme {rules.id}, version {rules.version}: "
              f"{len(rules.categories)} categories, {len(rules.items)} items ({counts})")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
