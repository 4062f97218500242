"""Staff on a phone (390 × 844): the navigation is one row, every link and button in the queue and the task list
is a thumb's size (44 px), and the queue's rows are cards whose item reads as words, not two characters a line."""

from __future__ import annotations

import pytest
from taskwork import publish

from browsing import PHONE, as_user, needs_chromium
from conftest import near, photo

pytestmark = pytest.mark.not_calendar  # the layout is the same on any day (the task runs from now)

SMALL = 43.5  # CSS pixels, after rounding


def too_small(page) -> list[str]:
    return page.evaluate("""(least) => Array.from(document.querySelectorAll("main a, main button"))
        .filter(e => !e.closest("svg") && e.getClientRects().length)  // the map's pins are the map's
        .map(e => [e.textContent.trim().slice(0, 20), e.getBoundingClientRect().height])
        .filter(([, h]) => h < least).map(([t, h]) => t + " " + h.toFixed(1))""", SMALL)


@needs_chromium
def test_staff_pages_fit_a_phone(stack, api, browser, community):
    for n in range(3):
        sent = api.submit(community.riders[0], "order.streetlight_broken", [photo(seed=100 + n)],
                          **near(metres_north=90 * n, metres_east=-400), description="路灯不亮,晚上很黑")
        assert sent.status_code == 201, sent.text
    task = publish(api, community.staff, title="周末清理楼道杂物")
    url = stack["url"]
    staff = as_user(browser, url, community.staff, viewport=PHONE)
    staff.goto(f"{url}/staff/queue")
    assert staff.eval_on_selector("header", "h => h.getBoundingClientRect().height") < 88  # one row (two: 110+)
    assert not too_small(staff), too_small(staff)
    item = staff.locator("table.queue tbody tr").first.locator("td").nth(3)
    assert item.bounding_box()["width"] > 150 and "路灯损坏" in item.inner_text()
    staff.goto(f"{url}/staff/tasks/")
    assert not too_small(staff), too_small(staff)
    title = staff.locator(f"a[href='/staff/tasks/{task['id']}']")
    assert title.bounding_box()["height"] >= SMALL
    staff.context.close()
