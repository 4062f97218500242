"""Photos on S3-compatible object storage (JIFEN_PHOTO_STORE=s3://bucket/prefix), against a real S3 server
(moto's server mode, started here on 127.0.0.1): reports store their photos there and serve them through the
app's access checks, the orphan sweep works on the bucket, a backup lists the objects and a restore checks
them, and a store that does not answer gives 503, not 500."""

from __future__ import annotations

import subprocess
import sys
import tarfile
import threading
import uuid
from pathlib import Path

import pytest

from client import Api
from conftest import TMP, free_port, http_get, near, photo, python, run, start_server, wait_for
from points.infra.photo_store import S3PhotoStore
from points.reports import intake
from points.tables import Photo

CREDENTIALS = {"AWS_ACCESS_KEY_ID": "jifen-test", "AWS_SECRET_ACCESS_KEY": "jifen-test-secret", "AWS_REGION": "us-east-1"}


@pytest.fixture(scope="module")
def s3_server():
    """moto's S3 server, as its own process on a free port."""
    port = free_port()
    # Its log is moto's, not ours (its request ids look like phone numbers to the privacy scan of TMP/*.log).
    log = (TMP / "s3-server.out").open("w")
    server = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                              stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        import httpx

        try:
            return http_get(url, timeout=1).status_code < 500
        except httpx.HTTPError:
            return server.poll() is not None
    wait_for(up, timeout=30, what="the S3 server to start")
    assert server.poll() is None, (TMP / "s3-server.out").read_text()[-2000:]
    yield url, server
    server.terminate()
    server.wait(timeout=15)


@pytest.fixture
def bucket(s3_server, monkeypatch):
    """A fresh bucket, and the environment that points Jifen at it (the credentials this process's too)."""
    url, _ = s3_server
    for key, value in CREDENTIALS.items():
        monkeypatch.setenv(key, value)
    name = f"jifen-{uuid.uuid4().hex[:8]}"
    env = {**CREDENTIALS, "JIFEN_PHOTO_STORE": f"s3://{name}/photos", "JIFEN_S3_ENDPOINT_URL": url}
    store = S3PhotoStore(env["JIFEN_PHOTO_STORE"], url, "us-east-1")
    store.client.create_bucket(Bucket=name)
    return store, env


def keys(store: S3PhotoStore) -> set[str]:
    listed = store.client.list_objects_v2(Bucket=store.bucket)
    return {o["Key"] for o in listed.get("Contents", [])}


def test_reports_keep_their_photos_in_the_bucket(community, bucket, tmp_path, place):
    store, env = bucket
    server, url = start_server("s3-app", env)
    try:
        api = Api(url)
        rider = community.riders[0]
        first, again = photo(), photo()
        made = api.submit(rider, "order.streetlight_broken", [first, again], **near(metres_north=140))
        assert made.status_code == 201, made.text
        report = made.json()
        paths = [r["path"] for r in run(Photo.select(Photo.path).where(Photo.submission == report["id"]))]
        assert {f"photos/{p}" for p in paths} <= keys(store)
        assert not any((TMP / "data" / "photos" / p).exists() for p in paths)  # nothing on this host's disk

        # Served through the app, behind its checks: the owner sees the stored bytes, another member does not.
        shown = api.get(f"/api/v1/submissions/{report['id']}/photos/{report['photos'][0]['id']}", rider)
        assert shown.status_code == 200 and shown.headers["content-type"] == "image/jpeg"
        assert shown.content == store.read(paths[0])
        other = api.get(f"/api/v1/submissions/{report['id']}/photos/{report['photos'][0]['id']}", community.riders[1])
        assert other.status_code == 404

        # One Idempotency-Key sent twice at once: one report, and only its photos stay in the bucket.
        answers = []
        same, key = photo(), f"s3-race-{uuid.uuid4().hex}"
        sends = [threading.Thread(target=lambda: answers.append(api.submit(
            rider, "order.streetlight_broken", [same], key=key, **near(metres_north=300)))) for _ in range(2)]
        for t in sends:
            t.start()
        for t in sends:
            t.join()
        assert sorted(a.status_code for a in answers) == [200, 201], [a.text for a in answers]
        assert len({a.json()["id"] for a in answers}) == 1
        referenced = {f"photos/{r['path']}" for r in run(Photo.select(Photo.path))}
        assert keys(store) == referenced & keys(store) and len(keys(store)) == 3

        # The orphan sweep: an object no report refers to (a process killed mid-report) goes; the rest stay.
        day = paths[0].rsplit("/", 1)[0]
        store.put(f"{day}/0rphan.jpg", first)
        assert run(intake.sweep_orphan_photos(store, grace_seconds=-60)) == 1
        assert f"photos/{day}/0rphan.jpg" not in keys(store) and {f"photos/{p}" for p in paths} <= keys(store)

        # A backup lists the objects (the bucket keeps its own copies); a restore checks they are there.
        archive = tmp_path / "s3.tar"
        assert python("-m", "points", "backup", str(archive), env=env).returncode == 0
        with tarfile.open(archive) as tar:
            names = tar.getnames()
            listed = tar.extractfile("photos.txt").read().decode().split()
        assert not any(n.startswith("photos/") for n in names) and set(paths) <= set(listed)
        place = {**place, **env}
        restored = python("-m", "points", "restore", str(archive), env=place)
        # (Other tests' photos in this shared database are on the local disk: only this test's are in the bucket.)
        assert restored.returncode == 0 and not any(p in restored.stderr for p in paths), restored.stderr[-2000:]
        store.discard(paths[:1])
        again_restored = python("-m", "points", "restore", str(archive), "--force", env=place)
        assert f"warning: photo {paths[0]} is referenced by the database but not in the photo store" in again_restored.stderr
    finally:
        server.stop()


def test_photo_storage_down_answers_503_and_files_nothing(community, bucket, s3_server):
    store, env = bucket
    dead = {**env, "JIFEN_S3_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}"}  # nothing listens there
    server, url = start_server("s3-down", dead)
    try:
        api = Api(url)
        before = run(Photo.count())
        made = api.submit(community.riders[0], "order.streetlight_broken", [photo()], **near(metres_north=200))
        assert made.status_code == 503 and made.json()["error"]["code"] == "service_unavailable"
        assert "photo storage" in made.json()["error"]["message"] and made.headers["Retry-After"]
        assert run(Photo.count()) == before
    finally:
        server.stop()
    assert "Traceback" not in Path(server.log).read_text()


def test_a_bad_photo_store_setting_is_named(tmp_path):
    started = python("-m", "points", "sweep", env={"JIFEN_PHOTO_STORE": "ftp://somewhere"})
    assert started.returncode == 2 and "JIFEN_PHOTO_STORE" in started.stderr
