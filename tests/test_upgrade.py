"""An upgrade while serving: the previous release (its own code, from git) makes a database and serves it —
demo data, then its README's walk of the whole loop — this release's migrations run while it goes on
serving, and then this release serves the same data with every balance intact and reconciliation clean."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import httpx
import pytest

from conftest import ROOT, TMP, free_port, http_get, http_post, photo, python, wait_for

# The release before this one: the commit of the last release (docs/operations.md, "Upgrades"). Bump it when cutting one.
PREVIOUS_RELEASE = "714ffc3bc7285776ef79ca113d07be20b038f6a8"
RIDER = "13800000001"


@pytest.fixture(scope="module")
def previous_release(tmp_path_factory) -> Path:
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", PREVIOUS_RELEASE], capture_output=True)
    if archive.returncode != 0:
        pytest.skip(f"the previous release ({PREVIOUS_RELEASE[:7]}) is not in this checkout's history")
    tree = tmp_path_factory.mktemp("previous-release")
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(tree, filter="data")
    (tree / ".venv").symlink_to(ROOT / ".venv")
    return tree


def balance(url: str) -> dict:
    login = http_post(f"{url}/api/v1/auth/login", json={"phone": RIDER, "password": "jifen-demo"})
    assert login.status_code == 200, login.text
    me = http_get(f"{url}/api/v1/me", cookies=login.cookies)
    assert me.status_code == 200, me.text
    history = http_get(f"{url}/api/v1/me/history", cookies=login.cookies).json()
    return {"balance": me.json()["balance"], "history": len(history)}


def serve(tree: Path, name: str, env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    port = free_port()
    log = (TMP / f"{name}.log").open("w")  # with the run's other logs: scanned for personal data at the end
    server = subprocess.Popen([sys.executable, "app.py"], cwd=tree, stdout=log, stderr=subprocess.STDOUT,
                              env={**os.environ, **env, "JIFEN_PORT": str(port)})
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return http_get(f"{url}/healthz").status_code == 200
        except httpx.HTTPError:
            return server.poll() is not None
    wait_for(up, timeout=30, what=f"{name} to start")
    assert server.poll() is None, (TMP / f"{name}.log").read_text()[-3000:]
    return server, url


def test_upgrade_while_the_previous_release_serves(previous_release, place):
    env = {**place, "JIFEN_RATE_LIMITS": "login_ip=0/1,submit_ip=0/1,submit_member=0/1"}

    def old(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, *args], cwd=previous_release, env={**os.environ, **env},
                              capture_output=True, text=True, timeout=180)

    assert old("-m", "points", "migrate").returncode == 0
    seeded = old("-m", "points", "seed-demo")
    assert seeded.returncode == 0, seeded.stderr
    server, url = serve(previous_release, "previous-release", env)
    try:
        readme = (previous_release / "README.md").read_text()
        walk = readme.split("The same over the JSON API with curl")[1].split("```sh\n")[1].split("```")[0]
        walked = subprocess.run(["bash", "-c", walk.replace("http://127.0.0.1:8000", url)], cwd=previous_release,
                                capture_output=True, text=True, timeout=180)
        assert '"status":"fulfilled"' in walked.stdout, walked.stdout[-2000:] + walked.stderr[-2000:]
        before = balance(url)
        assert before["history"] >= 2

        # This release's migrations, while the previous release serves: it goes on reading and writing.
        migrated = python("-m", "points", "migrate", env=env)
        assert migrated.returncode == 0, migrated.stdout + migrated.stderr
        assert migrated.stdout.startswith("Database schema up to date: ") and "already" not in migrated.stdout
        assert balance(url) == before
        login = http_post(f"{url}/api/v1/auth/login", json={"phone": RIDER, "password": "jifen-demo"})
        wrote = http_post(f"{url}/api/v1/submissions", cookies=login.cookies,
                           headers={"X-CSRF-Token": login.json()["csrf_token"]},
                           files=[("item", (None, "order.streetlight_broken")), ("lat", (None, "23.47")),
                                  ("lng", (None, "116.76")), ("photos", ("p.jpg", photo(), "image/jpeg"))])
        assert wrote.status_code == 201, wrote.text
    finally:
        server.terminate()
        server.wait(timeout=15)

    reconciled = python("-m", "points", "reconcile", env=env)
    assert reconciled.returncode == 0 and "0 mismatch(es)" in reconciled.stdout, reconciled.stdout
    server, url = serve(ROOT, "this-release", env)
    try:
        assert balance(url) == before
    finally:
        server.terminate()
        server.wait(timeout=15)


DESTRUCTIVE = ("drop_table(", "drop_column(", "rename_table(", "rename_column(", "alter_column(", "DROP TABLE",
               "DROP COLUMN", "RENAME ", "ALTER COLUMN")


def test_this_release_only_adds_to_the_schema(previous_release):
    """Migrations the previous release did not have may add tables, columns (with defaults) and indexes, and
    backfill; they may not drop, rename or retype what the previous release reads — it may still be serving
    (and a rolled-back release must run on the new schema). A drop waits for a later release."""
    folder = "points/piccolo_migrations"
    old = {p.name for p in (previous_release / folder).glob("points_*.py")}
    new = sorted(p for p in (ROOT / folder).glob("points_*.py") if p.name not in old)
    for path in new:
        text = path.read_text()
        found = [word for word in DESTRUCTIVE if word in text]
        assert not found, f"{path.name}: {found} — a migration the serving release may not survive"
