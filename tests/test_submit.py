"""Submitting: role and evidence rules, bad uploads, and the Idempotency-Key."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from conftest import near, photo, python, run
from points.tables import Photo, Submission

PHOTO_DIR = Path(os.environ["JIFEN_DATA_DIR"]) / "photos"


def stored_files() -> set[Path]:
    return {p for p in PHOTO_DIR.rglob("*") if p.is_file()}


def count_for(member_id: int) -> tuple[int, int]:
    submissions = run(Submission.count().where(Submission.member == member_id))
    photos = run(Photo.count().where(Photo.submission.member == member_id))
    return submissions, photos


def error(response) -> dict:
    body = response.json()
    assert set(body) == {"error"}, body
    return body["error"]


@pytest.mark.parametrize(("item", "fields", "photos", "code", "field"), [
    ("hazard.fire_exit_blocked", {"description": "堵了", **near()}, 0, "photos_required", "photos"),
    ("hazard.fire_exit_blocked", {"description": "堵了"}, 1, "location_required", "location"),
    ("hazard.fire_exit_blocked", near(), 1, "description_required", "description"),
    ("no.such_item", {}, 0, "unknown_item", "item"),
    ("penalty.false_report", {"description": "x"}, 0, "unknown_item", "item"),
    ("service.volunteer_hour", {"description": "义务巡逻", "units": 3}, 0, "invalid_units", "units"),
    ("order.streetlight_broken", {"lat": 23.4662}, 1, "invalid_location", "lng"),
    ("order.streetlight_broken", {"lat": 123.0, "lng": 116.7}, 1, "invalid_location", "lat"),
    ("order.streetlight_broken", {"grid": "G99"}, 1, "unknown_grid", "grid"),
])
def test_evidence_rules_name_the_field(api, community, jpeg, item, fields, photos, code, field):
    rider = community.riders[0]
    before = count_for(rider.id)
    response = api.submit(rider, item, [jpeg] * photos, **fields)
    assert response.status_code == 400, response.text
    assert error(response)["code"] == code
    assert error(response)["field"] == field
    assert count_for(rider.id) == before


def test_every_problem_of_a_report_is_named_at_once(api, community, jpeg):
    """A form marks every field that is wrong, not one per try: no photo, no place, no description."""
    rider = community.riders[0]
    before = count_for(rider.id)
    response = api.submit(rider, "hazard.fire_exit_blocked", [])
    assert response.status_code == 400, response.text
    problems = error(response)["problems"]
    assert {(p["code"], p["field"]) for p in problems} == {
        ("photos_required", "photos"), ("location_required", "location"), ("description_required", "description")}
    assert error(response)["code"] == problems[0]["code"]  # a client that reads one problem still gets one
    bad = api.submit(rider, "order.streetlight_broken", [b"not a picture", jpeg, b"GIF89a"], **near())
    assert bad.status_code == 415
    assert [p["field"] for p in error(bad)["problems"]] == ["photos[0]", "photos[2]"]
    assert count_for(rider.id) == before


def test_role_rules(api, community, jpeg):
    rider, resident, staff = community.riders[0], community.residents[0], community.staff
    refused = api.submit(rider, "order.noise_nuisance", [jpeg], description="夜间施工", **near())
    assert refused.status_code == 403
    assert error(refused)["code"] == "role_not_eligible" and error(refused)["field"] == "item"
    assert api.submit(resident, "order.noise_nuisance", [jpeg], description="夜间施工", **near()).status_code == 201
    assert api.submit(staff, "order.streetlight_broken", [jpeg], **near()).status_code == 403
    assert api.submit(None, "order.streetlight_broken", [jpeg], **near()).status_code == 401


def test_a_grid_can_be_chosen_instead_of_coordinates(api, community, jpeg):
    report = api.submit(community.residents[0], "order.streetlight_broken", [jpeg], grid="G2", address="2栋门口")
    assert report.status_code == 201, report.text
    assert report.json()["lat"] is None and report.json()["address"] == "2栋门口"


def test_bad_form_values_are_400_naming_the_field(api, community, jpeg):
    response = api.submit(community.riders[0], "order.streetlight_broken", [jpeg], lat="north", lng="116.7")
    assert response.status_code == 400
    assert error(response)["field"] == "lat"


@pytest.mark.parametrize(("make", "status", "code"), [
    (lambda: b"<?php system($_GET['c']); ?>" + b"\0" * 100, 415, "photo_type"),
    (lambda: b"GIF89a" + b"\0" * 100, 415, "photo_type"),
    (lambda: b"\x89PNG\r\n\x1a\n" + b"\0" * 200, 422, "photo_unreadable"),
    (lambda: photo(fmt="PNG")[:300], 422, "photo_unreadable"),
    (lambda: photo(8000, 6000), 413, "photo_too_many_pixels"),
    (lambda: os.urandom(9_000_000), 413, "photo_too_large"),
])
def test_bad_uploads_are_refused_and_nothing_is_stored(api, community, make, status, code):
    rider = community.riders[0]
    before_rows, before_files = count_for(rider.id), stored_files()
    response = api.submit(rider, "order.streetlight_broken", [make()], **near())
    assert response.status_code == status, response.text
    assert error(response)["code"] == code
    assert error(response)["field"] == "photos[0]"
    assert count_for(rider.id) == before_rows
    assert stored_files() == before_files


def test_png_and_webp_are_accepted_and_stored_as_jpeg(api, community):
    rider = community.riders[0]
    for fmt in ("PNG", "WEBP"):
        response = api.submit(rider, "order.greenery_damage", [photo(fmt=fmt, gps=None)], **near(metres_east=200))
        assert response.status_code == 201, response.text


def test_a_pixel_bomb_is_refused_before_decoding(api, community):
    import io
    import zlib

    from PIL import Image

    # A 20000×20000 PNG: a few kilobytes on the wire, 1.2 GB if decoded.
    raw = zlib.compress(b"\0" * 20001 * 20, 9)
    image = Image.new("L", (1, 1))
    out = io.BytesIO()
    image.save(out, format="PNG")
    header = bytearray(out.getvalue())
    header[16:24] = (20000).to_bytes(4, "big") + (20000).to_bytes(4, "big")
    bomb = bytes(header[:33]) + raw
    response = api.submit(community.riders[0], "order.streetlight_broken", [bomb], **near())
    assert response.status_code in (413, 422)
    assert error(response)["field"] == "photos[0]"


def test_idempotency_key_makes_a_retry_one_submission(api, community, jpeg):
    rider = community.riders[0]
    first = api.submit(rider, "order.garbage_pileup", [jpeg], key="phone-retry-0001", **near(metres_north=300))
    again = api.submit(rider, "order.garbage_pileup", [jpeg], key="phone-retry-0001", **near(metres_north=300))
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert count_for(rider.id) == (1, 1)

    changed = api.submit(rider, "order.road_spill", [jpeg], key="phone-retry-0001", **near(metres_north=300))
    assert changed.status_code == 422 and error(changed)["field"] == "Idempotency-Key"
    # The same key from another member is theirs alone.
    other = api.submit(community.riders[1], "order.garbage_pileup", [jpeg], key="phone-retry-0001",
                       **near(metres_north=900))
    assert other.status_code == 201
    bad_key = api.submit(rider, "order.garbage_pileup", [jpeg], key="short", **near())
    assert bad_key.status_code == 400 and error(bad_key)["field"] == "Idempotency-Key"


def test_concurrent_retries_with_one_key_make_one_submission(api, community, jpeg):
    from concurrent.futures import ThreadPoolExecutor

    rider = community.riders[1]
    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(lambda _: api.submit(rider, "order.illegal_ads", [jpeg], key="flaky-net-42",
                                                       **near(metres_east=-400)), range(8)))
    assert sorted(r.status_code for r in responses) == [200] * 7 + [201]
    assert len({r.json()["id"] for r in responses}) == 1
    assert count_for(rider.id) == (1, 1)


def test_a_photo_sent_again_is_shown_to_staff_beside_the_first(api, community):
    """The same picture re-saved smaller (a second reward for one photo) is found by its dHash; staff see
    the earlier report beside it, the reporter does not."""
    first_rider, second_rider, staff = community.riders[0], community.riders[1], community.staff
    first = api.submit(first_rider, "order.streetlight_broken", [photo(seed=1)], **near()).json()["id"]
    other = api.submit(first_rider, "order.streetlight_broken", [photo(seed=2)], **near(metres_north=500)).json()["id"]
    again = api.submit(second_rider, "order.streetlight_broken", [photo(seed=2), photo(1200, 900, seed=1, quality=60)],
                       **near(metres_north=900)).json()["id"]

    seen = {sid: api.get(f"/api/v1/submissions/{sid}", staff).json() for sid in (first, other, again)}
    assert (seen[first]["photo_like"], seen[other]["photo_like"]) == (None, None)  # unlike scenes
    assert seen[again]["photo_like"] in (first, other) and seen[again]["photo_distance"] <= 6
    assert api.get(f"/api/v1/submissions/{again}", second_rider).json()["photo_like"] is None
    queue = api.get("/staff/queue", staff).text
    assert queue.count("照片相似") == 1
    page = api.get(f"/staff/submissions/{again}", staff).text
    assert "照片相似的上报" in page and f'href="/staff/submissions/{seen[again]["photo_like"]}"' in page

    # An auto-accepted item is accepted unseen only with a picture not sent before.
    ads = api.submit(first_rider, "order.illegal_ads", [photo(seed=3)], **near(metres_east=400)).json()
    resent = api.submit(second_rider, "order.illegal_ads", [photo(800, 600, seed=3)], **near(metres_east=800)).json()
    assert ads["status"] in ("verified", "awarded") and ads["photo_like"] is None
    assert resent["status"] == "submitted"
    assert api.get(f"/api/v1/submissions/{resent['id']}", staff).json()["photo_like"] == ads["id"]


DECODE_PEAK = """
import re, sys
from points.infra.photos import clean
def peak_kb():  # this process's high-water mark (ru_maxrss would carry the parent's across exec)
    return int(re.search(r"VmHWM:\\s+(\\d+)", open("/proc/self/status").read()).group(1))
data = open(sys.argv[1], "rb").read()
before = peak_kb()
photo = clean(data, "photos[0]", 50_000_000, 150_000_000)
print((peak_kb() - before) // 1024, photo.width, photo.height)
"""


@pytest.mark.parametrize("orientation, shape", [(1, (2560, 1918)), (6, (1918, 2560))])
def test_a_40_megapixel_photo_is_decoded_small(tmp_path, orientation, shape):
    """A 40-megapixel JPEG of ~100 KB is decoded at a fraction of its size and shrunk before it is turned: the
    process grows by far less than the 120 MB its pixels would take (peak RSS, in a process of its own)."""
    from PIL import Image

    image = Image.new("RGB", (7300, 5467), (200, 30, 30))
    exif = image.getexif()
    exif[0x0112] = orientation
    path = tmp_path / "big.jpg"
    image.save(path, format="JPEG", quality=50, exif=exif)
    del image
    assert path.stat().st_size < 1_000_000
    result = python("-c", DECODE_PEAK, str(path))
    assert result.returncode == 0, result.stderr
    grown_mb, width, height = (int(x) for x in result.stdout.split())
    assert (width, height) == shape  # turned as the EXIF orientation says
    assert grown_mb < 100, f"decoding grew the process by {grown_mb} MB"
