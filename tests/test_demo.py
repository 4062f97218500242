"""The first command's set-up: migrate and seed an empty database, then log in as the demo rider."""

from __future__ import annotations

import os
import subprocess
from urllib.parse import urlsplit

import httpx
import pytest

from conftest import ROOT, http_get, http_post, python, start_server


@pytest.mark.embedded_default
def test_demo_seed_on_a_fresh_database(tmp_path):
    env = {"JIFEN_DATA_DIR": str(tmp_path)}
    assert python("-m", "points", "migrate", env=env).returncode == 0
    seeded = python("-m", "points", "seed-demo", env=env)
    assert seeded.returncode == 0, seeded.stderr
    assert "华冠社区" in seeded.stdout
    for phone in ("13800000000", "13800000001", "13800000002", "13800000003", "13800000004", "13800000006",
                  "13800000010", "13800000011", "13800000012"):
        assert f"{phone} / jifen-demo" in seeded.stdout
    assert "下长宁社区 (xiachangning, a scheme of its own), both in 澄华街道" in seeded.stdout
    again = python("-m", "points", "seed-demo", env=env)  # ./dev run, the next day: the logins again
    assert again.returncode == 0 and "from an earlier run" in again.stdout and "13800000001 / jifen-demo" in again.stdout

    server, url = start_server("demo-server", env)
    try:
        login = http_post(f"{url}/api/v1/auth/login", json={"phone": "13800000001", "password": "jifen-demo"})
        assert login.status_code == 200
        assert login.json()["member"]["community_name"] == "华冠社区"
        assert login.json()["member"]["role"] == "rider"
        # The README's curl walk, pasted into a shell twice in a row: report, verify, award, redeem, hand over.
        readme = (ROOT / "README.md").read_text()
        walk = readme.split("The same over the JSON API with curl")[1].split("```sh\n")[1].split("```")[0]
        (tmp_path / "walk").mkdir()
        (tmp_path / "walk" / ".venv").symlink_to(ROOT / ".venv")
        for attempt in (1, 2):
            shell = subprocess.run(["bash", "-c", walk], cwd=tmp_path / "walk", capture_output=True, text=True,
                                   timeout=120, env={**os.environ, "JIFEN_PORT": str(urlsplit(url).port)})
            assert shell.returncode == 0, (attempt, shell.stdout[-2000:], shell.stderr[-2000:])  # to its last line
            assert sorted(p.name for p in (tmp_path / "walk").iterdir()) == [".venv"]  # nothing left behind
            assert shell.stdout.count('"status":"fulfilled"') == 1, (attempt, shell.stdout[-3000:], shell.stderr[-3000:])
            assert shell.stdout.count('"state":"closed"') >= 1, (attempt, shell.stdout[-3000:])  # the case, fixed
            assert '"rating":5' in shell.stdout, shell.stdout[-2000:]  # and rated by its reporter
            assert '"checked_in_by":"code"' in shell.stdout, shell.stdout[-3000:]  # the activity, by the site's code
            assert '"state":"confirmed"' in shell.stdout, shell.stdout[-3000:]  # the patrol, confirmed
            assert "Traceback" not in shell.stderr, shell.stderr
            assert '"link":"http' in shell.stdout, shell.stdout[-500:]  # the rider's 推荐码, to share
        # The street: its admin compares the two communities; the neighbour runs its own scheme
        street = httpx.Client(base_url=url)
        assert street.post("/api/v1/auth/login", json={"phone": "13800000011", "password": "jifen-demo"}).status_code == 200
        assert {r["code"] for r in street.get("/api/v1/admin/compare").json()["rows"]} == {"huaguan", "xiachangning"}
        own = http_get(f"{url}/api/v1/rules?community=xiachangning").json()
        assert own["id"] == "xiachangning-2026"
        assert next(i["points"] for i in own["items"] if i["id"] == "hazard.fire_exit_blocked") == 40
        waiting = http_post(f"{url}/api/v1/auth/login", json={"phone": "13800000005", "password": "jifen-demo"})
        assert waiting.json()["member"]["status"] == "active"  # the pending rider, approved by the first run
    finally:
        server.stop()


def test_add_member_command_and_a_taken_phone(community):
    env = {"JIFEN_NEW_PASSWORD": "a-good-password"}
    code = python("-m", "points", "add-community", "--code", f"cli{community.id}", "--name", "命令行社区")
    assert code.returncode == 0, code.stderr
    args = ["-m", "points", "add-member", "--community", f"cli{community.id}", "--role", "staff", "--name", "新同事"]
    added = python(*args, "--phone", f"137 0000 {community.id:04d}", env=env)
    assert added.returncode == 0 and "staff 新同事 created" in added.stdout, added.stderr
    taken = python(*args, "--phone", community.riders[0].phone, env=env)
    assert taken.returncode == 1 and "phone: a member with this phone number exists" in taken.stderr
    bad = python(*args, "--phone", "12345", env=env)
    assert bad.returncode == 1 and "phone: not a phone number" in bad.stderr
