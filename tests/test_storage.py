"""A full disk under the embedded default's data directory (the database, photos and sessions): members get a
503 that says storage is unavailable — in the API's words and the page's — never a 500; nothing is half
written; and once space is back the app goes on by itself, the same report (the same Idempotency-Key)
stored once. The data directory is a small filesystem of its own (tmpfs), filled to the last block."""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import LEG, Api, clock_moved, near, photo, python, start_server

pytestmark = pytest.mark.skipif(LEG != "sqlite", reason="the embedded default's data directory")
RIDER, PASSWORD = "13800000001", "jifen-demo"  # the demo's rider


@pytest.fixture
def small_disk(tmp_path) -> Iterator[Path]:
    where = tmp_path / "small"
    where.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48m", "tmpfs", str(where)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"a small filesystem of its own needs root to mount: {mounted.stderr.decode().strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=True)


def fill(ballast: Path) -> None:
    """Write until the filesystem refuses, in ever smaller pieces, so that not a block is left (again after a
    refused request: SQLite may have given back its write-ahead log's blocks when it closed a connection)."""
    with ballast.open("ab", buffering=0) as f:
        for size in (1 << 20, 1 << 12, 1):
            try:
                while True:
                    f.write(b"\0" * size)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC, exc


def reports(api: Api, rider) -> list[int]:
    response = api.get("/api/v1/me/submissions", rider)
    assert response.status_code == 200, response.text
    return sorted(r["id"] for r in response.json())


def test_a_full_disk_answers_503_and_loses_nothing(small_disk):
    env = {"JIFEN_DATA_DIR": str(small_disk / "data"), "DATABASE_URL": "", "REDIS_URL": ""}
    for command in ("migrate", "seed-demo"):
        done = python("-m", "points", command, env=env)
        assert done.returncode == 0, done.stdout + done.stderr
    server, url = start_server("full-disk", env)
    try:
        api = Api(url)
        rider = api.user(RIDER, PASSWORD)
        picture = photo()

        def report(key: str, metres: int):
            return api.submit(rider, "order.streetlight_broken", [picture], key=key, **near(metres_north=metres))

        assert report("before-full", 300).status_code == 201
        before = reports(api, rider)
        ballast = small_disk / "ballast"
        fill(ballast)

        refused = report("while-full", 600)
        assert refused.status_code == 503, refused.text
        assert refused.json()["error"]["code"] == "storage_unavailable"
        assert "nothing was saved" in refused.json()["error"]["message"]
        assert int(refused.headers["retry-after"]) > 0
        fill(ballast)
        signing_in = api.login(RIDER, PASSWORD)  # a new session is a file in the data directory
        assert signing_in.status_code == 503, signing_in.text
        fill(ballast)
        page = api.post("/report", rider, headers={"Cookie": f"jifen_session={rider.session}; lang=zh"},
                        data={"item": "order.streetlight_broken", **{k: str(v) for k, v in near(900).items()}},
                        files=[("photos", ("p.jpg", photo(), "image/jpeg"))])
        assert page.status_code == 503, page.text[:500]
        assert "存储空间已满" in page.text and "未保存" in page.text
        photos = sorted(p.name for p in (small_disk / "data" / "photos").rglob("*") if p.is_file())
        with clock_moved(0.1):  # the session's renewal is due and the disk refuses it: the read goes on
            fill(ballast)
            assert reports(api, rider) == before

        os.unlink(ballast)  # space is back: the same requests now go through, with no restart
        again = report("while-full", 600)
        assert again.status_code == 201, again.text
        assert report("while-full", 600).json()["id"] == again.json()["id"]  # a retry, stored once
        assert reports(api, rider) == sorted([*before, again.json()["id"]])  # none of the refused ones
        assert len(sorted(p.name for p in (small_disk / "data" / "photos").rglob("*") if p.is_file())) \
            == len(photos) + 1
        assert api.login(RIDER, PASSWORD).status_code == 200
    finally:
        server.stop()
    log = server.text()
    assert "Traceback" not in log and "unhandled error" not in log, log[-3000:]
