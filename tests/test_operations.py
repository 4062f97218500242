"""What an operator sees: /metrics (off unless allowed; the award lag, requests by route, orders, queues,
the pool), and JSON log lines whose request id follows a request into the job it enqueued."""

from __future__ import annotations

import json
import os
import re
import uuid
from datetime import timedelta

import httpx
import pytest
import redis

from client import Api
from conftest import (
    LEG,
    Process,
    free_port,
    grant,
    http_get,
    near,
    photo,
    python,
    run,
    start_server,
    wait_for,
)
from points import clock
from points.areas import schemes
from points.reports import review
from points.scope import Actor
from points.shop import rewards
from points.tables import Reward, Submission
from rules.catalogue import load_catalogue

pytestmark = pytest.mark.not_calendar  # metrics, logs and commands: no rule of theirs depends on the day

TOKEN = "m" * 40


def metric(text: str, name: str, **labels: str) -> float | None:
    """The value of one sample of the exposition text, or None."""
    for line in text.splitlines():
        if line.startswith(name + ("{" if labels else " ")) and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return None


def test_metrics_are_off_unless_allowed(api):
    assert api.get("/metrics").status_code == 404  # the default: not there at all
    server, url = start_server("metrics-token", {"JIFEN_METRICS": "token", "JIFEN_METRICS_TOKEN": TOKEN})
    try:
        assert http_get(f"{url}/metrics").status_code == 404
        assert http_get(f"{url}/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 404
        scraped = http_get(f"{url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert scraped.status_code == 200 and "jifen_award_lag_seconds" in scraped.text
        assert "/metrics" not in http_get(f"{url}/schema/openapi.json").text
    finally:
        server.stop()
    short = python("-m", "points", "sweep", env={"JIFEN_METRICS": "token", "JIFEN_METRICS_TOKEN": "short"})
    assert short.returncode == 2 and "JIFEN_METRICS_TOKEN" in short.stderr


def test_metrics_show_the_award_lag_requests_and_orders(community, jpeg):
    server, url = start_server("metrics", {"JIFEN_METRICS": "loopback"})
    try:
        api = Api(url)
        rider, staff = community.riders[0], community.staff
        # A report verified a day ago whose award job was lost: the lag says so until the sweep awards it.
        sid = api.submit(rider, "order.streetlight_broken", [jpeg], **near(metres_north=400)).json()["id"]
        run(review.verify(Actor(staff.id, "staff", community.id, "", "active"), schemes.current(), sid))
        run(Submission.update({Submission.verified_at: clock.now() - timedelta(days=1)}).where(Submission.id == sid))
        scraped = http_get(f"{url}/metrics").text
        assert metric(scraped, "jifen_award_lag_seconds") >= 86_400 and metric(scraped, "jifen_award_backlog") >= 1
        assert python("-m", "points", "sweep").returncode == 0
        scraped = http_get(f"{url}/metrics").text
        assert metric(scraped, "jifen_award_lag_seconds") < 86_400

        # Requests by route template, method and status.
        assert api.get(f"/api/v1/submissions/{sid}", rider).status_code == 200
        run(rewards.load_catalogue(community.id, load_catalogue("rules/rewards.toml")))
        grant(community.id, rider.id, 500)
        voucher = run(Reward.select(Reward.id).where((Reward.community == community.id)
                                                     & (Reward.code == "r.meal_voucher")).first())["id"]
        assert api.post("/api/v1/shop/orders", rider, json={"reward": voucher}).status_code == 201
        scraped = http_get(f"{url}/metrics").text
        assert metric(scraped, "jifen_requests_total", method="GET", path="/api/v1/submissions/{submission_id}",
                      status_code="200") >= 1
        assert metric(scraped, "jifen_request_duration_seconds_count", method="POST", path="/api/v1/submissions",
                      status_code="201") >= 1
        assert metric(scraped, "jifen_orders_total", outcome="placed") >= 1
        assert metric(scraped, "jifen_order_batch_size_count") >= 1
        assert metric(scraped, "jifen_cases_overdue") is not None and metric(scraped, "jifen_tasks_running") is not None
        if LEG == "postgres":
            assert metric(scraped, "jifen_queue_jobs", state="queued") is not None
            assert metric(scraped, "jifen_queue_jobs", state="failed") is not None
            pool = [metric(scraped, "jifen_db_pool_connections", state=s) for s in ("in_use", "idle")]
            assert None not in pool and sum(pool) >= 1
        else:  # the embedded worker sweeps in the app process
            assert metric(scraped, "jifen_sweep_runs_total", result="done") >= 1
            assert metric(scraped, "jifen_sweep_duration_seconds_count") >= 1
        # Loopback means this host, not a visitor the proxy forwarded.
        assert http_get(f"{url}/metrics", headers={"X-Forwarded-For": "203.0.113.9"}).status_code == 404
    finally:
        server.stop()


def test_json_logs_carry_the_request_id_into_the_job(community):
    env = {"JIFEN_LOG_FORMAT": "json"}
    worker = None
    if LEG == "postgres":  # a queue of its own, so that this test's worker is the one that runs the job
        env["REDIS_URL"] = re.sub(r"/\d+$", "/10", os.environ["REDIS_URL"])
        redis.Redis.from_url(env["REDIS_URL"]).flushdb()
        worker = Process("json-worker", ["worker.py"], env)
    server, url = start_server("json-logs", env)
    try:
        api = Api(url)
        rider = api.user(community.riders[0].phone)
        request_id = f"req-{uuid.uuid4().hex[:12]}"
        place = near(metres_north=500)
        parts = [("item", (None, "order.illegal_ads")), ("lat", (None, str(place["lat"]))),
                 ("lng", (None, str(place["lng"]))), ("photos", ("p.jpg", photo(), "image/jpeg"))]
        made = api.post("/api/v1/submissions", rider, files=parts, headers={"X-Request-ID": request_id})
        assert made.status_code == 201 and made.headers["x-request-id"] == request_id
        api.wait_awarded(rider, made.json()["id"])
        logs = [worker, server] if worker else [server]

        def lines() -> list[dict]:
            return [json.loads(line) for p in logs for line in p.text().splitlines() if line.startswith("{")]
        wait_for(lambda: any(r["request_id"] == request_id and "awarded" in r["message"] for r in lines()),
                 timeout=20, what="the award job's log line with the request's id")
        mine = [r for r in lines() if r["request_id"] == request_id]
        assert any(r["logger"] == "jifen.access" and r["message"].startswith("POST /api/v1/submissions 201") for r in mine)
        for process in logs:  # every line is one JSON object
            assert all(line.startswith("{") for line in process.text().splitlines() if line.strip()), process.text()[-2000:]
        assert rider.phone not in server.text()
    finally:
        server.stop()
        if worker:
            worker.stop()


def test_several_app_processes_are_scraped_as_one(stack, tmp_path):
    """uvicorn --workers 2 with PROMETHEUS_MULTIPROC_DIR: whichever process answers the scrape counts them all."""
    port = free_port()
    shared = tmp_path / "prometheus"
    shared.mkdir()
    server = Process("metrics-multiproc", ["-m", "uvicorn", "app:app", "--port", str(port), "--workers", "2"],
                     {"JIFEN_METRICS": "loopback", "PROMETHEUS_MULTIPROC_DIR": str(shared)})
    url = f"http://127.0.0.1:{port}"
    try:
        def up() -> bool:
            try:
                return http_get(f"{url}/healthz").status_code == 200
            except httpx.HTTPError:
                return server.proc.poll() is not None
        wait_for(up, timeout=30, what="two app processes")
        for _ in range(20):  # new connections each: the kernel hands them to either process
            http_get(f"{url}/readyz")
        scraped = http_get(f"{url}/metrics").text
        assert metric(scraped, "jifen_requests_total", method="GET", path="/readyz", status_code="200") == 20
    finally:
        server.stop()
