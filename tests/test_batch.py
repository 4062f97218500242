"""批量通过: staff approve the queue's simple reports at once (desk-checked, low value, nothing flagged), each
on its own, undo within the scheme's window, and the points follow only after it."""

from __future__ import annotations

import itertools
import os
import re
from datetime import timedelta

import pytest

from browsing import DESKTOP, Screens, as_user, needs_chromium
from conftest import near, photo, python, run
from makers import in_area
from points import clock
from points.infra.db import sql

pytestmark = pytest.mark.calendar  # reads the calendar: run again with the clock pinned

_spots = itertools.count(1)
SHANGHAI_NOW_EXIF = "%Y:%m:%d %H:%M:%S"


def fresh_photo(spot: dict[str, float]) -> bytes:
    """A photo as a phone takes it on the spot, just now (its EXIF time in the scheme's local time)."""
    from zoneinfo import ZoneInfo

    taken = (clock.now() - timedelta(minutes=5)).astimezone(ZoneInfo("Asia/Shanghai")).strftime(SHANGHAI_NOW_EXIF)
    return photo(gps=(spot["lat"], spot["lng"]), taken=taken)


def simple_report(api, member) -> int:
    spot = in_area(next(_spots))  # in the community's grids, apart: no report is a duplicate of another
    response = api.submit(member, "order.streetlight_broken", [fresh_photo(spot)], **spot)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def statuses(ids: list[int]) -> dict[int, str]:
    return {r["id"]: r["status"] for r in run(sql(
        f"SELECT id, status FROM submission WHERE id IN ({', '.join(map(str, ids))})"))}


def sweep(minutes_later: int = 0):
    """The periodic sweep, run now or as if `minutes_later` had passed."""
    env = {"JIFEN_CLOCK_OFFSET_SECONDS": str(float(os.environ.get("JIFEN_CLOCK_OFFSET_SECONDS", "0")) + 60 * minutes_later)}
    done = python("-m", "points", "sweep", env=env)
    assert done.returncode == 0, done.stderr


def test_batch_approval_takes_only_simple_reports_and_can_be_undone(api, community, jpeg):
    rider, staff = community.riders[0], community.staff
    simple = [simple_report(api, rider) for _ in range(2)]
    first_spot = in_area(next(_spots))
    simple.append(api.submit(rider, "order.streetlight_broken", [fresh_photo(first_spot)], **first_spot).json()["id"])
    duplicate = api.submit(community.riders[1], "order.streetlight_broken", [fresh_photo(first_spot)],
                           **first_spot).json()["id"]  # a second report of the same light: flagged
    old_photo = api.submit(rider, "order.streetlight_broken", [jpeg], **in_area(next(_spots))).json()["id"]
    big = api.submit(rider, "hazard.fire_exit_blocked", [fresh_photo(first_spot)], description="堵了",
                     **in_area(next(_spots))).json()["id"]
    far_spot = near(metres_north=20_000)  # in none of the community's grids: 区域外
    outside = api.submit(rider, "order.streetlight_broken", [fresh_photo(far_spot)], **far_spot).json()["id"]

    queue = api.get("/staff/queue", staff).text
    ticked = {int(v) for v in re.findall(r'name="id" value="(\d+)"', queue)}
    assert ticked == set(simple)  # the flagged, the old photo, the 50-point and the out-of-area report are
    assert "3 条简单上报" in queue  # looked at one by one

    everything = [*simple, duplicate, old_photo, big, outside]
    approved = api.post("/staff/queue/approve", staff, data={"_csrf_token": staff.csrf, "id": [str(i) for i in everything]},
                        follow_redirects=False)
    assert approved.status_code == 303
    after = api.get(approved.headers["location"], staff).text
    assert "已批量通过 3 条" in after and "另有 4 条需要单独查看" in after
    assert statuses(everything) == {**dict.fromkeys(simple, "verified"), duplicate: "submitted",
                                    old_photo: "submitted", big: "submitted", outside: "submitted"}
    sweep()  # within the window: no points yet
    assert set(statuses(simple).values()) == {"verified"}

    undone = api.post("/staff/queue/undo", staff, data={"_csrf_token": staff.csrf, "ids": ",".join(map(str, simple))},
                      follow_redirects=False)
    assert undone.status_code == 303 and "done=batch_undone" in undone.headers["location"]
    assert set(statuses(simple).values()) == {"submitted"}
    assert run(sql(f"SELECT COUNT(*) AS n FROM transfer WHERE ref IN ({', '.join(repr(f'submission:{i}') for i in simple)})"))[0]["n"] == 0
    assert run(sql("SELECT COUNT(*) AS n FROM audit_event WHERE action = 'submission.undo' AND object_id = {}",
                   str(simple[0])))[0]["n"] == 1

    again = api.post("/staff/queue/approve", staff, data={"_csrf_token": staff.csrf, "id": [str(i) for i in simple]},
                     follow_redirects=False)
    assert "undo=" in again.headers["location"]
    sweep(minutes_later=3)  # the window is over: the sweep awards them
    assert set(statuses(simple).values()) == {"awarded"}
    late = api.post("/staff/queue/undo", staff, data={"_csrf_token": staff.csrf, "ids": ",".join(map(str, simple))},
                    follow_redirects=False)
    assert "error.undo_too_late" in late.headers["location"]


def test_staff_cannot_batch_approve_another_communitys_reports(api, make_community):
    home, elsewhere = make_community(), make_community()
    ids = [simple_report(api, home.riders[0]) for _ in range(2)]
    outsider = elsewhere.staff
    response = api.post("/staff/queue/approve", outsider, data={"_csrf_token": outsider.csrf, "id": [str(i) for i in ids]},
                        follow_redirects=False)
    assert response.status_code == 303 and "refused=2" in response.headers["location"]
    assert set(statuses(ids).values()) == {"submitted"}
    api.post("/staff/queue/approve", home.staff, data={"_csrf_token": home.staff.csrf, "id": [str(i) for i in ids]})
    undo = api.post("/staff/queue/undo", outsider, data={"_csrf_token": outsider.csrf, "ids": ",".join(map(str, ids))},
                    follow_redirects=False)
    assert "error.undo_too_late" in undo.headers["location"]  # nothing of theirs to undo: nothing changes
    assert set(statuses(ids).values()) == {"verified"}


@needs_chromium
def test_staff_clear_fifty_simple_reports_with_the_mouse_without_scrolling(stack, api, browser, community):
    ids = [simple_report(api, community.riders[n % 2]) for n in range(50)]
    page = as_user(browser, stack["url"], community.staff, viewport=DESKTOP)
    page.goto(f"{stack['url']}/staff/queue")
    button = page.query_selector("#batch button")
    box = button.bounding_box()
    assert box["y"] + box["height"] <= DESKTOP["height"], box  # in the first screen, no scrolling
    assert button.inner_text() == "通过勾选的 50 条"
    Screens("batch").shot(page, "queue")
    button.click()
    page.wait_for_selector("#batch-done")
    assert "已批量通过 50 条" in page.inner_text("#batch-done")
    assert set(statuses(ids).values()) == {"verified"}
    page.context.close()
