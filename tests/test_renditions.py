"""Photos are served at the size they are shown: the staff queue's 64-px thumbnails are 320-px copies, the
public page's and the case pages' pictures 1280-px ones, each made once and kept beside the photo in its
store, behind the photo's own access check, and kept by the orphan sweep while the photo is."""

from __future__ import annotations

import io
import re

from PIL import Image

from conftest import near, photo, run
from points.infra.config import settings
from points.infra.db import sql
from points.infra.photo_store import photo_store, rendition_name
from points.reports import intake


def test_the_staff_queue_of_twenty_reports_weighs_under_300_kb(api, community, make_community):
    people = [*community.riders, *community.residents]
    for n in range(20):
        sent = api.submit(people[n % len(people)], "order.streetlight_broken",
                          [photo(2560, 1920, quality=95, seed=n)], **near(metres_north=120 * n, metres_east=700))
        assert sent.status_code == 201, sent.text
    page = api.get("/staff/queue", community.staff)
    assert page.status_code == 200
    sources = re.findall(r'<img[^>]* src="([^"]+)"', page.text)
    assert len(sources) >= 20 and all(s.endswith("?size=thumb") for s in sources if "/photos/" in s)
    pictures = [api.get(s.replace("&amp;", "&"), community.staff) for s in sources]
    assert all(p.status_code == 200 for p in pictures)
    weight = len(page.content) + sum(len(p.content) for p in pictures)
    full = sum(len(api.get(s.split("?")[0], community.staff).content) for s in sources[:5])
    assert weight < 300_000, weight
    assert full / 5 * 20 > 300_000  # the same photos at full size would not fit: what the sizes are for
    assert max(Image.open(io.BytesIO(pictures[0].content)).size) <= 320

    # Made once, kept in the store beside the photo, and kept by the orphan sweep while the photo is
    shown = re.search(r"/api/v1/submissions/(\d+)/photos/(\d+)", sources[0])
    name = run(sql("SELECT path FROM photo WHERE id = {}", int(shown[2])))[0]["path"]
    store = photo_store(settings())
    assert store.exists(rendition_name(name, "thumb"))
    run(intake.sweep_orphan_photos(store, grace_seconds=-60))
    assert store.exists(name) and store.exists(rendition_name(name, "thumb"))

    # The same access check as the photo: another community's staff find nothing
    other = make_community()
    assert api.get(f"/api/v1/submissions/{shown[1]}/photos/{shown[2]}?size=thumb", other.staff).status_code == 404
    assert api.get(f"/api/v1/submissions/{shown[1]}/photos/{shown[2]}?size=huge", community.staff).status_code == 400
