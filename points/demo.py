"""Demo data for a newcomer: 华冠社区 with four grids, its shop, an admin, one staff member, three riders (one
awaiting approval) and two residents."""

from __future__ import annotations

from points import members, shop
from points.config import ROOT
from points.tables import Community
from rules.catalogue import load_catalogue

# Four rectangular grids around 华冠社区 (澄华街道, 汕头市澄海区); [lat, lng] corners.
LAT, LNG, STEP = 23.4660, 116.7560, 0.004
GRIDS = [
    {"code": f"G{n + 1}", "name": name,
     "polygon": [[LAT + r * STEP, LNG + c * STEP], [LAT + r * STEP, LNG + (c + 1) * STEP],
                 [LAT + (r + 1) * STEP, LNG + (c + 1) * STEP], [LAT + (r + 1) * STEP, LNG + c * STEP]]}
    for n, (name, r, c) in enumerate([("第一网格(东区)", 0, 1), ("第二网格(西区)", 0, 0),
                                      ("第三网格(北区)", 1, 0), ("第四网格(商业街)", 1, 1)])
]

PEOPLE = [  # role, name, phone, platform, status
    ("staff", "林社工", "13800000000", None, "active"),
    ("rider", "陈骑手", "13800000001", "meituan", "active"),
    ("rider", "黄骑手", "13800000002", "eleme", "active"),
    ("resident", "李阿姨", "13800000003", None, "active"),
    ("resident", "王先生", "13800000004", None, "active"),
    ("rider", "张骑手", "13800000005", "sf", "pending"),  # registered, awaiting approval
    ("admin", "系统管理员", "13800000009", None, "active"),
]
PASSWORD = "jifen-demo"


async def seed() -> list[tuple[str, str, str, str]] | None:
    """Seed an empty database; return the logins made, or None if there was data already."""
    if await Community.count() > 0:
        return None
    community = await members.create_community("huaguan", "华冠社区", "Huaguan Community", GRIDS)
    for role, name, phone, platform, status in PEOPLE:
        await members.create_member(community, role, name, phone, PASSWORD, platform, status,
                                    f"{platform.upper()}-{phone[-4:]}" if platform else None)
    await shop.load_catalogue(community, load_catalogue(ROOT / "rules" / "rewards.toml"))
    return [(role if status == "active" else f"{role} ({status})", name, phone, PASSWORD)
            for role, name, phone, _, status in PEOPLE]
