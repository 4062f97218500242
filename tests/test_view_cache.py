"""Members' views kept in each app process (web/view_cache.py, points/infra/changes.py): answered from memory while
nothing in the member's community changed, read afresh in every process the moment something did, and never
kept where the change feed is not heard.

A change made straight in the database (no announcement) is what shows a view is kept: the app cannot know of
it, so a kept view still shows the old value — exactly what a missed announcement would cost."""

from __future__ import annotations

import os

import pytest
import redis

from client import Api
from conftest import LEG, near, requires_rq, run, start_server, wait_for
from points import clock
from points.infra import changes
from points.infra.db import sql
from points.scope import Actor
from web.view_cache import MAX_AGE_S, ViewCache


def _rename(member_id: int, name: str) -> None:
    run(sql("UPDATE member SET name = {} WHERE id = {} RETURNING id", name, member_id))


def _name(api: Api, user) -> str:
    return api.get("/api/v1/me", user).json()["member"]["name"]


@requires_rq()
def test_what_one_process_does_shows_at_once_in_every_other(api, community, jpeg):
    rider, staff = community.riders[0], community.staff
    second, url = start_server("second-app")
    other = Api(url)
    try:
        name = _name(api, rider)
        spendable = api.balance(rider)["spendable"]
        assert _name(other, rider) == name and "可用积分" in other.get("/", rider).text
        _rename(rider.id, "改过的名字")
        assert _name(api, rider) == name and _name(other, rider) == name  # kept in both processes
        assert f"<h1>{name}</h1>" in other.get("/", rider).text

        # A report filed through the first process is on the rider's home page from the second at once.
        sid = api.submit(rider, "order.streetlight_broken", [jpeg], **near()).json()["id"]
        home = other.get("/", rider).text
        assert "路灯损坏" in home and "<h1>改过的名字</h1>" in home
        assert _name(other, rider) == "改过的名字" and _name(api, rider) == "改过的名字"

        # Verified through the second, awarded by a worker: the first shows the points.
        assert other.verify(staff, sid).status_code == 200
        points = api.wait_awarded(rider, sid)["points"]
        wait_for(lambda: api.balance(rider)["spendable"] == spendable + points, timeout=10,
                 what="the award in the first process's answer")
        assert other.balance(rider)["spendable"] == spendable + points
        assert any(e["points"] == points for e in other.get("/api/v1/me/history", rider).json())

        # Logging out through one process ends the session in the other at once.
        assert api.post("/api/v1/auth/logout", rider).status_code in (200, 204)
        assert other.get("/api/v1/me", rider).status_code == 401 and api.get("/", rider).status_code in (401, 303)
    finally:
        second.stop()
        _rename(rider.id, name)


@requires_rq()
def test_logins_leave_kept_views_alone_and_a_suspension_reaches_the_member_at_once(api, community):
    rider, staff, resident = community.riders[1], community.staff, community.residents[0]
    me = api.get("/api/v1/me", rider).json()["member"]
    name = me["name"]
    assert me["status"] == "active" and "测试停用" not in api.get("/", rider).text
    _rename(rider.id, "停用之前")
    try:
        api.user(resident.phone)  # someone logs in: a new session, no view of anyone's changed
        assert _name(api, rider) == name
        assert api.post(f"/api/v1/staff/members/{rider.id}/suspend", staff,
                        json={"reason": "测试停用"}).status_code == 200
        me = api.get("/api/v1/me", rider).json()["member"]
        assert me["status"] == "suspended" and me["name"] == "停用之前"
        assert "测试停用" in api.get("/", rider).text
    finally:
        _rename(rider.id, name)


@requires_rq()
def test_a_process_that_stops_hearing_the_feed_reads_afresh(api, community):
    resident = community.residents[0]
    name = _name(api, resident)
    _rename(resident.id, "断线之后")
    try:
        assert _name(api, resident) == name  # kept
        client = redis.Redis.from_url(os.environ["REDIS_URL"])
        listeners = [c["id"] for c in client.client_list() if c["name"] == changes.LISTENER_NAME]
        assert listeners
        for listener in listeners:
            client.client_kill_filter(_id=listener)
        wait_for(lambda: _name(api, resident) == "断线之后", timeout=5, what="a fresh read once the feed was lost")
    finally:
        _rename(resident.id, name)


@pytest.mark.skipif(LEG != "sqlite", reason="the embedded mode")
def test_the_embedded_mode_keeps_nothing(api, community):
    """No Redis, no feed: every read is fresh (one process, one community, no rush to absorb)."""
    resident = community.residents[1]
    name = _name(api, resident)
    _rename(resident.id, "嵌入式")
    try:
        assert _name(api, resident) == "嵌入式"
    finally:
        _rename(resident.id, name)


def _cache() -> tuple[changes.Feed, ViewCache, Actor]:
    feed = changes.Feed()
    feed.hear(changes.EVERYWHERE)
    feed.live = True
    return feed, ViewCache(1_000_000, feed), Actor(1, "rider", 7, "", "active")


def test_a_view_read_while_its_community_changed_is_not_kept():
    feed, views, actor = _cache()

    async def read_during_a_change() -> str:
        feed.hear("7")  # a change committed in another process while this read was under way
        return "maybe stale"

    assert run(views.kept("k", actor, read_during_a_change)) == "maybe stale"
    assert views.peek("k") is None

    async def read() -> str:
        return "fresh"

    assert run(views.kept("k", actor, read)) == "fresh" and views.peek("k") == "fresh"
    feed.hear("8,9")  # other communities: still good
    assert views.peek("k") == "fresh"
    feed.hear("9,7")
    assert views.peek("k") is None


def test_nothing_is_kept_unless_the_feed_is_heard_nor_for_longer_than_its_age_limit(monkeypatch):
    feed, views, actor = _cache()

    async def read() -> str:
        return "view"

    run(views.kept("k", actor, read))
    feed.lose()  # the link dropped: everything kept before is forgotten, nothing new is kept
    assert views.peek("k") is None
    run(views.kept("k", actor, read))
    assert views.peek("k") is None

    feed.live = True
    run(views.kept("k", actor, read))
    assert views.peek("k") == "view"
    shift = float(os.environ.get(clock.OFFSET_VARIABLE) or 0)
    monkeypatch.setenv(clock.OFFSET_VARIABLE, str(shift + MAX_AGE_S + 1))
    assert views.peek("k") is None


def test_the_least_recently_used_views_leave_first_when_memory_is_full():
    feed, _, actor = _cache()
    views = ViewCache(1_000, feed)
    for key in "abcdefghij":
        views.keep(key, key.upper(), actor.community_id, feed.mark(), size=100)
    assert views.peek("a") == "A"  # used: now the most recent
    views.keep("k", "K", actor.community_id, feed.mark(), size=100)
    assert views.peek("b") is None and views.peek("a") == "A" and views.peek("k") == "K"
    views.keep("huge", "H", actor.community_id, feed.mark(), size=101)  # over a tenth of the whole: not kept
    assert views.peek("huge") is None and views.peek("c") == "C"
