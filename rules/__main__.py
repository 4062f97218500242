"""`python -m rules check FILE…`: check rules files, reward catalogues, working-day calendars and grid boundary
files (GeoJSON) without starting anything (exit 0 or 1)."""

import sys
from collections import Counter
from pathlib import Path

from rules.catalogue import load_catalogue
from rules.grids import load_grids
from rules.loader import RulesError, load_rules
from rules.workdays import load_calendar


def _kind(path: str) -> str:
    """Which kind of file: a reward catalogue, a working-day calendar, or (else) a rules file."""
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "rules"  # the rules loader reports it
    if text.lstrip().startswith("{"):
        return "grids"
    return "catalogue" if "[[reward]]" in text else "calendar" if "[[year]]" in text else "rules"


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[0] != "check":
        print("usage: python -m rules check FILE [FILE…]  (rules files, reward catalogues, working-day calendars, grid boundaries)",
              file=sys.stderr)
        return 2
    status = 0
    for path in argv[1:]:
        try:
            if _kind(path) == "catalogue":
                catalogue = load_catalogue(path)
                print(f"{path}: OK, reward catalogue: {len(catalogue.rewards)} rewards")
                continue
            if _kind(path) == "grids":
                shapes = load_grids(path)
                print(f"{path}: OK, grid boundaries: {len(shapes)} grids ({', '.join(g.code for g in shapes[:10])})")
                continue
            if _kind(path) == "calendar":
                calendar = load_calendar(path)
                print(f"{path}: OK, working-day calendar for {', '.join(map(str, sorted(calendar.years)))}: "
                      f"{len(calendar.holidays)} holidays, {len(calendar.workdays)} make-up working days")
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
