"""The declarative rules file(s) and their typed loader (pure Python, no database)."""

from rules.loader import Category, Evidence, Expiry, Item, Rules, RulesError, load_rules, parse_rules

__all__ = ["Category", "Evidence", "Expiry", "Item", "Rules", "RulesError", "load_rules", "parse_rules"]
