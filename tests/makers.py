"""Quick ways to make what tests need: phone numbers, places, photos of made-up scenes, points, sessions."""

from __future__ import annotations

import functools
import io
import itertools
import os
from dataclasses import dataclass

import pytest

from client import User
from harness import LEG, PASSWORD, run
from points.infra import db
from points.infra.photos import dhash
from points.ledger import transfers as ledger
from points.ledger.transfers import (
    ISSUANCE,
    SPENDABLE,
    TransferSpec,
    community_account_key,
    member_account_key,
)
from points.people import members, passwords
from points.scope import Actor

_phones = itertools.count(int.from_bytes(os.urandom(3)) % 10**7 * 10)  # this run's own block of numbers
_codes = itertools.count(1)
_scenes: list[int] = []  # the dHash of every new scene this run has drawn
# a new scene differs from every earlier one in more bits than this; the app calls ≤ 12 bits "like"
UNLIKE_BITS = 16


def as_member(member_id: int, role: str = "rider") -> Actor:
    """The member whose own rows (balances, history) a test reads, as the domain wants them: an actor."""
    return Actor(member_id, role, 0, "", "active")


def next_code() -> str:
    """A community code no other test of this run (or a parallel run) has used."""
    return f"t{os.getpid()}x{next(_codes)}"


def new_phone() -> str:
    return f"139{next(_phones) % 10**8:08d}"


@dataclass
class Community:
    id: int
    staff: User
    riders: list[User]
    residents: list[User]


# A point inside grid G1 of the demo layout, and helpers to move a few metres from it.
G1 = (23.4662, 116.7605)


def in_area(n: int) -> dict[str, float]:
    """The n-th of 144 places inside the test community's grids (points/ops/demo.py's four cells), each more
    than the scheme's 50 m duplicate distance from every other."""
    row, column = divmod(n % 144, 12)
    return {"lat": round(23.4662 + 0.0006 * row, 7), "lng": round(116.7562 + 0.0006 * column, 7)}


def near(metres_north: float = 0, metres_east: float = 0, base: tuple[float, float] = G1) -> dict[str, float]:
    import math

    lat = base[0] + metres_north / 111_000
    lng = base[1] + metres_east / (111_000 * math.cos(math.radians(base[0])))
    return {"lat": round(lat, 7), "lng": round(lng, 7)}


def photo(
    width: int = 640,
    height: int = 480,
    fmt: str = "JPEG",
    gps: tuple[float, float] | None = (23.4662, 116.7605),
    taken: str = "2026:11:20 08:30:00",
    seed: int | None = None,
    quality: int = 90,
    orientation: int = 1,
) -> bytes:
    """A photo of a made-up scene (blocks of colour): a new scene each call, or the scene `seed` names (the
    same picture at any size), so that only a test that means to send one picture twice does."""
    import random

    from PIL import Image, ImageDraw

    def draw(rng: random.Random) -> Image.Image:
        # a coarse random ground under the blocks, so that two scenes' dHashes differ in about half their bits
        ground = bytes(rng.randrange(256) for _ in range(9 * 8 * 3))
        scene = Image.frombytes("RGB", (9, 8), ground).resize((120, 90), Image.Resampling.NEAREST)
        pen = ImageDraw.Draw(scene)
        for _ in range(30):
            x, y = rng.randrange(110), rng.randrange(80)
            pen.rectangle(
                (x, y, x + rng.randrange(5, 40), y + rng.randrange(5, 30)),
                fill=(rng.randrange(256), rng.randrange(256), rng.randrange(256)),
            )
        return scene

    if seed is not None:
        scene = draw(random.Random(seed))
    else:  # random scenes are now and then alike enough for the app's like-photo check: draw again
        while True:
            scene = draw(random.Random(os.urandom(8)))
            bits = int(dhash(scene), 16)
            if all((bits ^ earlier).bit_count() > UNLIKE_BITS for earlier in _scenes):
                _scenes.append(bits)
                break
    image = scene.resize((width, height), Image.Resampling.NEAREST)
    exif = image.getexif()
    exif.get_ifd(0x8769)[0x9003] = taken
    if orientation != 1:  # how the phone was held: viewers turn the picture by this
        exif[0x0112] = orientation
    if gps:

        def dms(value: float) -> tuple[float, float, float]:
            d = int(value)
            m = int((value - d) * 60)
            return (float(d), float(m), round(((value - d) * 60 - m) * 60, 4))

        exif.get_ifd(0x8825).update({1: "N", 2: dms(gps[0]), 3: "E", 4: dms(gps[1])})
    out = io.BytesIO()
    image.save(out, format=fmt, exif=exif, **({"quality": quality} if fmt == "JPEG" else {}))
    return out.getvalue()


def grant(community_id: int, member_id: int, points: int, code: str = "test_grant") -> None:
    """Give a member points as the ledger would for earned awards (a test's shortcut past reporting); negative
    `points` take them back to the community (a deduction, with `code`)."""
    keys = [community_account_key(ISSUANCE, community_id), member_account_key(SPENDABLE, member_id)]
    ids = run(ledger.accounts_by_key(keys))
    source, target = (ids[keys[0]], ids[keys[1]]) if points > 0 else (ids[keys[1]], ids[keys[0]])
    spec = TransferSpec(f"test:grant:{member_id}:{points}:{os.urandom(4).hex()}", source, target, abs(points), code,
                        "test grant", "test")
    run(db.write(lambda: ledger.post([spec])))


@functools.cache
def password_hash() -> str:
    """PASSWORD's scrypt hash, computed once a run: the test members share it (the KDF is tested where
    signing in is)."""
    return passwords.hash_password(PASSWORD)


def member(community_id: int, role: str, platform: str | None = None, **extra) -> User:
    """A new member of the community, signed in (their session written straight to the store); they can also
    sign in over HTTP with PASSWORD."""
    phone = new_phone()
    mid = run(members.create_member(community_id, role, f"{role}-{phone[-4:]}", phone, PASSWORD, platform,
                                    password_hash=password_hash(), **extra))
    user = signed_in(mid, role, community_id)
    user.phone = phone
    return user


def signed_in(member_id: int, role: str, community_id: int) -> User:
    """A live session for a member, written straight into the server's session store (a test's shortcut
    past logging in, for tests that need hundreds of members)."""
    from points.infra.config import settings
    from points.scope import Actor
    from web.sessions import Sessions, make_store

    async def start():
        sessions = Sessions(make_store(settings()), settings())
        try:
            return await sessions.start(Actor(member_id, role, community_id, "", "active"), 0)
        finally:
            await sessions.close()

    session = run(start())
    return User(member_id, role, "", session.sid, session.csrf, community_id)


def requires_rq(reason: str = "needs Redis and worker.py (the production leg)"):
    return pytest.mark.skipif(LEG != "postgres", reason=reason)
