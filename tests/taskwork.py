"""Test data for tasks: times around the (pinned) clock, a task published by staff, members who log in, the
site's code, a photo taken now at a place, and a server running as if hours had passed."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from client import Api
from makers import G1, member, near, photo
from points import clock

SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(minutes: float) -> str:
    """The instant `minutes` from now, as the API takes it (with its zone)."""
    return (clock.now() + timedelta(minutes=minutes)).astimezone(SHANGHAI).isoformat()


def tomorrow_at(hour: float) -> float:
    """The minutes from now to `hour` o'clock tomorrow in Shanghai: tasks set from there fall on one local day
    (caps count per local day) whatever the hour the test runs at."""
    now = clock.now().astimezone(SHANGHAI)
    anchor = datetime.combine(now.date() + timedelta(days=1), time(), SHANGHAI) + timedelta(hours=hour)
    return (anchor - now).total_seconds() / 60


def publish(api: Api, staff, **fields) -> dict:
    body = {"kind": "activity", "title": "周末清理楼道杂物", "item": "service.volunteer_hour", "starts_at": at(-5),
            "ends_at": at(180), "signup_closes_at": at(60), "slots": 20, "place": "华冠社区广场",
            **near(), "radius_m": 100, **fields}
    made = api.post("/api/v1/staff/tasks", staff, json=body)
    assert made.status_code == 201, made.text
    return made.json()


def people(api: Api, community_id: int, n: int, role: str = "rider") -> list:
    """`n` active members of the community, signed in."""
    return [member(community_id, role, "meituan" if role == "rider" else None) for _ in range(n)]


def code(api: Api, staff, task_id: int) -> str:
    shown = api.get(f"/api/v1/staff/tasks/{task_id}/code", staff)
    assert shown.status_code == 200, shown.text
    return shown.json()["code"]


def shot_here(place: dict, minutes: float = 0) -> bytes:
    """A photo taken `minutes` from now (the phone's local time in EXIF) at `place`."""
    taken = (clock.now() + timedelta(minutes=minutes)).astimezone(SHANGHAI).strftime("%Y:%m:%d %H:%M:%S")
    return photo(gps=(place["lat"], place["lng"]), taken=taken)


__all__ = ["G1", "SHANGHAI", "at", "code", "near", "people", "publish", "shot_here", "tomorrow_at"]
