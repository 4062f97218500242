"""Request and response shapes of the JSON API (msgspec), a module per area over base.py's building
blocks."""
