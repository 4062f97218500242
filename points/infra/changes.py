"""The change feed: which communities' member-visible state changed, heard by every app process.

An app process may keep what it read for a member (their session, their balance, their home page) in memory, so
a busy moment's repeated reads skip the database. That is safe only if every process hears of every change that
could alter what it kept. So whatever commits such a change announces its community, or every community, after
the commit: every write that moves a balance (`db.touches`, from the ledger), every request that posts
(web/view_cache.py), a sweep that did something, a command line run. The announcement goes over Redis
pub/sub to every listening process, and to this process's own `FEED` at once.

Kept views are trusted only while this process's listener hears the feed. Nothing is kept before it has
subscribed, after it lost the link (or heard nothing, not even the answers to its own pings, for `SILENT_S`),
nor in the embedded mode (no Redis); a lost link forgets everything kept before it. An announcement that
itself fails (Redis down) is logged, and what other processes kept ages out within the view cache's limit.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from urllib.parse import urlsplit

from redis.asyncio import Redis
from redis.exceptions import RedisError

from points.infra.config import settings

log = logging.getLogger(__name__)
EVERYWHERE = "*"
PING_S = 2.0
SILENT_S = 6.0  # nothing heard for this long (a ping is answered within it): the link is taken as lost
LISTENER_NAME = "jifen-changes"  # the listener's connection, as CLIENT LIST shows it


class Feed:
    """What this process has heard: a running count of announcements, and when each community last changed.

    A reader takes `mark()` before it reads; what it read stays good while `still(community, mark)`: no
    announcement for that community (or for all) came after the mark, and the feed was heard all along."""

    def __init__(self) -> None:
        self.live = False
        self._count = 0
        self._everywhere_at = 0
        self._changed_at: dict[int, int] = {}

    def mark(self) -> int:
        return self._count

    def still(self, community: int, mark: int) -> bool:
        return self.live and self._everywhere_at <= mark and self._changed_at.get(community, 0) <= mark

    def hear(self, message: str) -> None:
        self._count += 1
        if message == EVERYWHERE:
            self._everywhere_at = self._count
            self._changed_at.clear()  # older marks than this one are stale everywhere anyway
            return
        for part in message.split(","):
            if part.isdigit():
                self._changed_at[int(part)] = self._count

    def lose(self) -> None:
        self.live = False
        self.hear(EVERYWHERE)


QUIET_AFTER_FAILURE_S = 5.0  # a Redis that is down costs one write a short wait, not every write
FEED = Feed()
_publisher: tuple[asyncio.AbstractEventLoop, Redis] | None = None
_quiet_until = 0.0


def channel(redis_url: str) -> str:
    """The feed's channel: pub/sub spans a Redis server's numbered databases, so the number is in the name
    (deployments sharing a server do not hear each other)."""
    return "jifen:changed:" + (urlsplit(redis_url).path.strip("/") or "0")


def _message(communities: Iterable[int] | None) -> str:
    if communities is None:
        return EVERYWHERE
    return ",".join(str(c) for c in sorted(set(communities)))


async def announce(communities: Iterable[int] | None = None) -> None:
    """After a commit: these communities' members may see something new (None: any community's)."""
    global _publisher, _quiet_until
    message = _message(communities)
    if not message:
        return
    FEED.hear(message)
    redis_url = settings().redis_url
    if not redis_url or time.monotonic() < _quiet_until:  # the embedded mode keeps nothing; Redis just failed
        return
    loop = asyncio.get_running_loop()
    if _publisher is None or _publisher[0] is not loop:  # a client belongs to the event loop it was made on
        _publisher = (loop, Redis.from_url(redis_url, socket_connect_timeout=1, socket_timeout=2))
    try:
        await _publisher[1].publish(channel(redis_url), message)
    except (RedisError, OSError) as exc:
        _quiet_until = time.monotonic() + QUIET_AFTER_FAILURE_S
        log.warning("could not announce a change (%s): other processes' kept views age out on their own", exc)


async def close() -> None:
    """Close this process's announcing connection (a command's last step; an app's shutdown)."""
    global _publisher
    if _publisher is not None:
        client, _publisher = _publisher[1], None
        await client.aclose()


async def listen(redis_url: str) -> None:
    """Hear the feed until cancelled: subscribe, trust kept views while the link answers, forget them when it
    does not, and subscribe again."""
    client = Redis.from_url(redis_url, socket_connect_timeout=2, socket_timeout=SILENT_S, client_name=LISTENER_NAME)
    try:
        while True:
            try:
                await _hear(client, channel(redis_url))
            except (RedisError, OSError) as exc:
                if asyncio.current_task().cancelling():  # a cancel that met the read's timeout became one
                    raise asyncio.CancelledError from exc
                log.warning("change feed lost (%s): views are read afresh until it is back", exc)
            FEED.lose()
            await asyncio.sleep(1)
    finally:
        FEED.lose()
        await client.aclose()


async def _hear(client: Redis, name: str) -> None:
    async with client.pubsub() as pubsub:
        await pubsub.subscribe(name)
        heard = pinged = time.monotonic()
        while not asyncio.current_task().cancelling():  # a cancel the client library swallowed still stops it
            message = await pubsub.get_message(timeout=PING_S)
            now = time.monotonic()
            if message is not None:
                heard = now
                if message["type"] == "subscribe":
                    FEED.hear(EVERYWHERE)  # what changed before the subscription took hold is unknown
                    FEED.live = True
                elif message["type"] == "message":
                    FEED.hear(message["data"].decode())
            if now - heard > SILENT_S:
                raise RedisError(f"nothing heard for {SILENT_S:.0f} s")
            if now - pinged >= PING_S:
                await pubsub.ping()
                pinged = now
        raise asyncio.CancelledError
