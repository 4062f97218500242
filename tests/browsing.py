"""Driving the pages in Debian's headless Chromium (through Playwright), as members and staff meet them:
phone and desktop sizes, screenshots of what they saw in test-artefacts/, and the check that every error a
page shows is worded by the locale catalogues (never the domain's English)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from harness import LEG, ROOT

CHROMIUM = Path("/usr/bin/chromium")
ARTEFACTS = ROOT / "test-artefacts" / LEG
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
needs_chromium = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (./dev test installs it)")


class Screens:
    def __init__(self, name: str):
        self.dir = ARTEFACTS / name
        self.dir.mkdir(parents=True, exist_ok=True)
        self.n = 0

    def shot(self, page, label: str) -> None:
        """The page as it is, at its own width and at the other one."""
        self.n += 1
        size = page.viewport_size
        for width, other in ((size, "phone" if size["width"] < 600 else "desktop"),
                             (DESKTOP if size["width"] < 600 else PHONE, "desktop" if size["width"] < 600 else "phone")):
            page.set_viewport_size(width)
            page.screenshot(path=str(self.dir / f"{self.n:02d}-{label}-{other}.png"), full_page=True)
        page.set_viewport_size(size)


def as_user(browser, url: str, user: Any, *, viewport: dict | None = None, javascript: bool = True, lang: str = "zh"):
    """A new browser page signed in as `user` (their session cookie), in the page language `lang`."""
    context = browser.new_context(viewport=viewport or PHONE, java_script_enabled=javascript, locale="zh-CN")
    context.add_cookies([{"name": "jifen_session", "value": user.session, "url": url},
                         {"name": "lang", "value": lang, "url": url}])
    page = context.new_page()
    page.on("dialog", lambda d: pytest.fail(f"a dialog box: {d.message}"))  # errors are shown in the page
    return page


def _catalogue_pattern(lang: str) -> re.Pattern:
    from web.i18n import CATALOGUES

    words = CATALOGUES[lang]
    messages = sorted((v for k, v in words.items() if k.startswith(("error.", "report."))), key=len, reverse=True)
    one = "|".join(re.sub(r"\\\{\w+\\\}", ".+?", re.escape(m)) for m in messages)
    return re.compile(rf"^(?:(?:{one})\s*)+$")


# What the page's script sends (the photo pipeline posts a FormData over XMLHttpRequest, whose body Playwright
# cannot see): each send's parts added up in sessionStorage, which outlives the page's redirect after it.
_COUNT_SENT = """(() => {
  const send = XMLHttpRequest.prototype.send;
  XMLHttpRequest.prototype.send = function (body) {
    if (body instanceof FormData) {
      let n = 0;
      for (const [, v] of body.entries()) n += v instanceof Blob ? v.size : new Blob([String(v)]).size;
      sessionStorage.setItem("sentBytes", String(Number(sessionStorage.getItem("sentBytes") || 0) + n));
    }
    return send.call(this, body);
  };
})();"""


def count_uploads(page) -> None:
    """From the page's next load on, count the bytes its forms send (read with `uploaded`)."""
    page.add_init_script(_COUNT_SENT)


def uploaded(page) -> int:
    return int(page.evaluate("Number(sessionStorage.getItem('sentBytes') || 0)"))


def shown_errors(page) -> dict[str, str]:
    """The error texts the page shows, by the id of the element that shows each; every one must be made of
    the page's catalogue messages."""
    lang = "en" if page.evaluate("document.documentElement.lang") == "en" else "zh"
    pattern = _catalogue_pattern(lang)
    shown = {el.get_attribute("id") or "flash": el.inner_text().strip()
             for el in page.query_selector_all(".err:not([hidden]), .flash.bad") if el.inner_text().strip()}
    for where, text in shown.items():
        assert pattern.match(text), f"{where}: {text!r} is not worded by web/locale/{lang}/LC_MESSAGES/messages.po"
    return shown
