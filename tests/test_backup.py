"""Backup and restore (`python -m points backup DEST`, `restore SRC`): taken while the app serves, restored
into a fresh place, nothing committed before the snapshot lost, every photo byte-identical, a damaged
archive refused with the file named."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import tarfile
import threading
from pathlib import Path

import pytest

from conftest import (
    LEG,
    PASSWORD,
    ROOT,
    TMP,
    grant,
    http_get,
    http_post,
    near,
    photo,
    python,
    run,
    start_server,
)
from harness import older_database
from points.infra import db
from points.shop import rewards
from points.tables import Reward
from rules.catalogue import load_catalogue

CATALOGUE = load_catalogue(ROOT / "rules" / "rewards.toml")
SOURCE_PHOTOS = TMP / "data" / "photos"  # the running stack's JIFEN_DATA_DIR (harness._configure)


def rows(env: dict[str, str], query: str) -> list[tuple]:
    """Rows of a query on the restored place's database."""
    if not env["DATABASE_URL"]:
        con = sqlite3.connect(Path(env["JIFEN_DATA_DIR"]) / "jifen.sqlite3")
        try:
            return con.execute(query).fetchall()
        finally:
            con.close()

    async def read() -> list[tuple]:
        import asyncpg

        con = await asyncpg.connect(env["DATABASE_URL"])
        try:
            return [tuple(r) for r in await con.fetch(query)]
        finally:
            await con.close()
    return asyncio.run(read())


def committed_keys() -> set[str]:
    return {r["idempotency_key"] for r in run(db.sql("SELECT idempotency_key FROM transfer"))}


def test_a_backup_taken_during_a_rush_restores_whole(api, community, tmp_path, place):
    run(rewards.load_catalogue(community.id, CATALOGUE))
    voucher = run(Reward.select(Reward.id).where((Reward.community == community.id)
                                                 & (Reward.code == "r.meal_voucher")).first())["id"]
    reporters = community.riders + community.residents
    for member in reporters:
        grant(community.id, member.id, 1000)
    waiting = [api.submit(reporters[n % 4], "order.streetlight_broken", [photo()], **near(metres_north=80 * n)).json()["id"]
               for n in range(8)]

    # The rush: orders from every member and the staff verifying the queue (the award jobs drain behind),
    # while the backup runs.
    rushing = threading.Event()
    answers: list[int] = []

    def orders(member) -> None:
        while rushing.is_set():
            answers.append(api.post("/api/v1/shop/orders", member, json={"reward": voucher}).status_code)

    def verify() -> None:
        for sid in waiting:
            answers.append(api.verify(community.staff, sid).status_code)

    rushing.set()
    threads = [threading.Thread(target=orders, args=(m,)) for m in reporters] + [threading.Thread(target=verify)]
    for t in threads:
        t.start()
    before = committed_keys()
    archive = tmp_path / "backups"
    archive.mkdir()
    made = python("-m", "points", "backup", str(archive))
    rushing.clear()
    for t in threads:
        t.join()
    assert made.returncode == 0, made.stderr
    assert "backup written" in made.stdout and 500 not in answers and 201 in answers
    [path] = list(archive.iterdir())
    assert path.name.startswith("jifen-backup-") and path.suffix == ".tar"
    for sid, reporter in zip(waiting, [reporters[n % 4] for n in range(8)], strict=True):
        api.wait_awarded(reporter, sid)

    restored = python("-m", "points", "restore", str(path), env=place)
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert "reconciliation: 0 mismatch(es)" in restored.stdout
    assert "transfer" in restored.stdout and "in the backup" in restored.stdout  # the counts, before and after

    # Everything committed before the backup began is there; nothing is there that never happened.
    keys = {r[0] for r in rows(place, "SELECT idempotency_key FROM transfer")}
    with tarfile.open(path) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))
    assert manifest["row_counts"]["transfer"] == len(keys) and manifest["release"] == "0.1.0"
    assert len(manifest["migrations"]) == len(list((ROOT / "points" / "piccolo_migrations").glob("points_*.py")))
    assert before <= keys <= committed_keys()
    # Every photo of this community's reports is there, byte for byte (other tests' may be on object storage).
    paths = [r[0] for r in rows(place, "SELECT p.path FROM photo p JOIN submission s ON s.id = p.submission "
                                       f"WHERE s.community = {community.id}")]
    assert len(paths) == 8 and manifest["rules_versions"] and not set(manifest["photos_missing"]) & set(paths)
    for name in paths:
        assert (Path(place["JIFEN_DATA_DIR"]) / "photos" / name).read_bytes() == (SOURCE_PHOTOS / name).read_bytes()

    # The restored place serves: the rider logs in and sees their report.
    server, url = start_server("restored-server", place)
    try:

        login = http_post(f"{url}/api/v1/auth/login", json={"phone": community.riders[0].phone, "password": PASSWORD})
        assert login.status_code == 200
        mine = http_get(f"{url}/api/v1/me/submissions", cookies=login.cookies).json()
        assert waiting[0] in {s["id"] for s in mine}
        report = http_get(f"{url}/api/v1/submissions/{waiting[0]}", cookies=login.cookies).json()
        assert report["status"] in ("verified", "awarded")
        shown = http_get(f"{url}/api/v1/submissions/{waiting[0]}/photos/{report['photos'][0]['id']}",
                          cookies=login.cookies)
        assert shown.status_code == 200 and shown.headers["content-type"] == "image/jpeg"
    finally:
        server.stop()

    # Into a place that is no longer empty: refused, unless told.
    again = python("-m", "points", "restore", str(path), env=place)
    assert again.returncode == 1 and "not empty" in again.stderr and "--force" in again.stderr
    forced = python("-m", "points", "restore", str(path), "--force", env=place)
    assert forced.returncode == 0 and "reconciliation: 0 mismatch(es)" in forced.stdout, forced.stderr


def test_a_damaged_archive_is_refused_with_the_file_named_and_nothing_written(api, community, tmp_path, jpeg,
                                                                             place):
    sid = api.submit(community.riders[0], "order.streetlight_broken", [jpeg], **near()).json()["id"]
    assert sid
    path = tmp_path / "one.tar"
    assert python("-m", "points", "backup", str(path)).returncode == 0
    with tarfile.open(path) as tar:
        member = next(m for m in tar.getmembers() if m.name.startswith("photos/"))
    data = bytearray(path.read_bytes())
    data[member.offset_data + 100] ^= 0xFF  # one flipped byte inside a photo
    path.write_bytes(bytes(data))

    refused = python("-m", "points", "restore", str(path), env=place)
    assert refused.returncode == 1
    assert f"{member.name}: checksum does not match" in refused.stderr
    restored = Path(place["JIFEN_DATA_DIR"])
    assert not (restored / "jifen.sqlite3").exists() and not (restored / "photos").exists()
    if LEG == "postgres":
        assert rows(place, "SELECT COUNT(*) FROM pg_tables WHERE schemaname = 'public'") == [(0,)]
    assert python("-m", "points", "restore", str(tmp_path / "none.tar"), env=place).stderr.startswith(
        f"restore: {tmp_path / 'none.tar'}: no such archive")


@pytest.mark.skipif(LEG != "sqlite", reason="an older release's embedded database")
def test_an_older_archive_is_migrated_forward_on_restore(tmp_path, place):
    old = tmp_path / "old"
    old.mkdir()
    older_database(old, "2026-11-30T01:00:00:000000")  # before grids' GeoJSON, month points and lot summaries
    env = {"JIFEN_DATA_DIR": str(old), "DATABASE_URL": ""}
    made = python("-m", "points", "backup", str(tmp_path / "old.tar"), env=env)
    assert made.returncode == 0, made.stderr
    restored = python("-m", "points", "restore", str(tmp_path / "old.tar"), env=place)
    assert restored.returncode == 0, restored.stdout + restored.stderr
    applied = {r[0] for r in rows(place, "SELECT name FROM migration")}
    head = list((ROOT / "points" / "piccolo_migrations").glob("points_*.py"))
    assert len(applied) == len(head) and "2026-11-30T02:20:00:000000" in applied and ("lot_summary",) in rows(
        place, "SELECT name FROM sqlite_master WHERE name = 'lot_summary'")


@pytest.mark.skipif(LEG != "postgres", reason="pg_dump is the production leg's tool")
def test_without_pg_dump_the_backup_says_what_to_install(tmp_path):
    made = python("-m", "points", "backup", str(tmp_path / "x.tar"), env={"PATH": str(tmp_path)})
    assert made.returncode == 1
    assert "pg_dump is not installed" in made.stderr and "postgresql-client" in made.stderr
    assert not (tmp_path / "x.tar").exists()
