"""Configuration: a bad value stops start-up with a message naming the variable."""

from __future__ import annotations

import re

import pytest

from conftest import ROOT, python


@pytest.mark.parametrize(("env", "names"), [
    ({"JIFEN_PORT": "eighty"}, "JIFEN_PORT: must be a whole number"),
    ({"JIFEN_PORT": "70000"}, "JIFEN_PORT: must be between 1 and 65535"),
    ({"DATABASE_URL": "mysql://localhost/x"}, "DATABASE_URL: must start with sqlite:/// or postgresql://"),
    ({"REDIS_URL": "localhost:6379"}, "REDIS_URL: must start with redis://"),
    ({"JIFEN_RULES": "/nowhere/rules.toml"}, "JIFEN_RULES: no rules file at /nowhere/rules.toml"),
    ({"JIFEN_LOG_LEVEL": "LOUD"}, "JIFEN_LOG_LEVEL: must be one of"),
    ({"JIFEN_SECRET_KEY": "short"}, "JIFEN_SECRET_KEY: must be at least 32 characters"),
    ({"JIFEN_AWARD_BATCH": "0"}, "JIFEN_AWARD_BATCH: must be between 1 and 5000"),
])
def test_bad_settings_stop_the_app_and_the_commands(env, names):
    for command in (["app.py"], ["-m", "points", "reconcile"]):
        result = python(*command, env=env)
        assert result.returncode == 2, result.stdout + result.stderr
        assert names in result.stderr
        assert "Traceback" not in result.stderr


def test_a_bad_rules_file_stops_the_app_naming_file_item_and_field(tmp_path):
    bad = tmp_path / "rules.toml"
    bad.write_text((ROOT / "rules" / "default.toml").read_text().replace("daily_cap = 3", "daily_cap = -3", 1))
    result = python("app.py", env={"JIFEN_RULES": str(bad)})
    assert result.returncode == 2
    assert f"{bad}: item 'hazard.fire_exit_blocked', field 'daily_cap': must not be negative" in result.stderr


def test_worker_needs_redis():
    result = python("worker.py", env={"REDIS_URL": ""})
    assert result.returncode == 2
    assert "REDIS_URL: is needed to run worker.py" in result.stderr


def test_every_setting_is_documented():
    sources = [*(ROOT / "points").rglob("*.py"), *(ROOT / "web").rglob("*.py"), *(ROOT / "bench").glob("*.py"),
               ROOT / "app.py", ROOT / "worker.py", ROOT / "dev"]
    read = set(re.findall(r'"((?:JIFEN|BENCH)_[A-Z_]+|DATABASE_URL|REDIS_URL)"',
                          "".join(p.read_text() for p in sources)))
    documented = "".join(p.read_text() for p in [ROOT / "README.md", *(ROOT / "docs").glob("*.md")])
    assert read and not {name for name in read if f"`{name}`" not in documented}
