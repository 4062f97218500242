"""The static files (CSS, scripts, icon) under URLs that name their content: a page links
`/static/app.css?v=<hash>` and the file is served to be kept for a year, so a rider's phone fetches it once
per release, not once per page view on a slow network (a changed file gets a new URL). Every link to a
static file goes through `url` (a test holds the templates to it)."""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

from litestar.datastructures import CacheControlHeader

STATIC = Path(__file__).parent / "static"
KEEP = CacheControlHeader(public=True, max_age=365 * 24 * 3600, immutable=True)


@cache
def url(name: str) -> str:
    """The file's URL with its content's hash (read once per process: files change with a release)."""
    return f"/static/{name}?v={hashlib.sha256((STATIC / name).read_bytes()).hexdigest()[:12]}"
