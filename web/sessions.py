"""Server-side login sessions behind an HttpOnly cookie.

The cookie holds a random id; the record lives in a litestar store: a file
store under the data directory in the embedded mode, Redis in production, so
any app process can read any session. The store key is the id's SHA-256, so a
leaked store does not leak live cookies.

A session has an absolute lifetime and an idle timeout (both shorter for
staff), a CSRF token of its own, and the member's session epoch: a role change
raises the epoch and so ends every older session. Login always starts a new
session (a new id) and ends the one the browser came with.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from tempfile import mkstemp

from litestar.datastructures import Cookie
from litestar.stores.base import StorageObject, Store
from litestar.stores.file import FileStore
from litestar.stores.redis import RedisStore
from redis.asyncio import BlockingConnectionPool, Redis

from points import clock
from points.infra.batching import Batcher
from points.infra.config import Settings
from points.infra.db import storage_full
from points.scope import Actor

COOKIE = "jifen_session"
SECURE_COOKIE = "__Host-jifen_session"  # over HTTPS: the browser keeps it to this host, Secure, path /
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")  # the methods that change nothing, so need no CSRF token
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "_csrf_token"
RENEW_EVERY = 60  # seconds at most: how stale `last seen` may get before the record is written again


@dataclass
class Session:
    sid: str
    member_id: int
    epoch: int
    csrf: str
    created: float
    seen: float
    idle: int
    absolute: int

    def record(self) -> str:
        return json.dumps({"m": self.member_id, "e": self.epoch, "x": self.csrf, "c": self.created, "s": self.seen,
                           "i": self.idle, "a": self.absolute})


def session_id(cookies: dict[str, str]) -> str | None:
    """The session id a browser sent, under either cookie name."""
    return cookies.get(SECURE_COOKIE) or cookies.get(COOKIE)


def session_cookies(secure: bool, sid: str = "", max_age: int = 0) -> list[Cookie]:
    """The session cookie to set (a new `sid`), or, with no sid, the cookies that end one. Over HTTPS the name
    has the __Host- prefix, so no other host or path can set or read it."""
    if not sid:
        return [Cookie(key=name, value="", path="/", max_age=0, httponly=True, samesite="lax", secure=name == SECURE_COOKIE)
                for name in (COOKIE, SECURE_COOKIE)]
    return [Cookie(key=SECURE_COOKIE if secure else COOKIE, value=sid, path="/", httponly=True, samesite="lax",
                   max_age=max_age, secure=secure)]


def redis_client(url: str) -> Redis:
    """A client whose requests wait their turn for a connection under load, instead of failing, and never wait
    for ever: a Redis that is down or hung fails the call within seconds (the request answers 503)."""
    return Redis(connection_pool=BlockingConnectionPool.from_url(url, max_connections=64, timeout=10,
                                                                 socket_connect_timeout=2, socket_timeout=5))


class SessionRedisStore(RedisStore):
    async def get_many(self, keys: list[str]) -> list[bytes | None]:
        return await self._redis.mget([self._make_key(k) for k in keys])

    async def ping(self) -> None:
        await self._redis.ping()


class SessionFileStore(FileStore):
    """litestar's file store, except that a write the disk refuses fails (litestar's passes over it: a member would
    be told they are signed in with a session that was never kept). A full disk answers 503, web/errors.py."""

    def _write_sync(self, target_file: Path, storage_obj: StorageObject) -> None:
        fd, name = mkstemp(dir=self.path, prefix=f"{target_file.name}.tmp")
        try:
            try:
                os.write(fd, storage_obj.to_bytes())
            finally:
                os.close(fd)
            os.replace(name, target_file)
        except OSError:
            Path(name).unlink(missing_ok=True)
            raise


def make_store(config: Settings) -> Store:
    if config.redis_url:
        return SessionRedisStore(redis_client(config.redis_url), namespace="jifen-sessions",
                                 handle_client_shutdown=True)
    path = Path(config.data_dir) / "sessions"
    path.mkdir(parents=True, exist_ok=True)
    return SessionFileStore(path)


def _key(sid: str) -> str:
    return hashlib.sha256(sid.encode()).hexdigest()


class Sessions:
    def __init__(self, store: Store, config: Settings):
        self.store = store
        self.config = config
        # Every signed-in request reads its session: under load, the reads of one moment share one MGET.
        self._reads = Batcher(store.get_many, max_size=500) if isinstance(store, SessionRedisStore) else None

    def lifetimes(self, actor: Actor) -> tuple[int, int]:
        """(idle, absolute) in seconds for this member's role."""
        c = self.config
        if actor.is_staff:
            return c.staff_idle_seconds, c.staff_session_seconds
        return c.session_idle_seconds, c.session_seconds

    async def start(self, actor: Actor, epoch: int, old_sid: str | None = None) -> Session:
        if old_sid:
            await self.end(old_sid)
        idle, absolute = self.lifetimes(actor)
        now = clock.timestamp()
        session = Session(secrets.token_urlsafe(32), actor.id, epoch, secrets.token_urlsafe(32), now, now, idle,
                          absolute)
        await self.store.set(_key(session.sid), session.record(), expires_in=idle)
        return session

    async def load(self, sid: str) -> Session | None:
        """The live session for this cookie, or None (unknown, idle too long, or past its lifetime)."""
        if not sid or len(sid) > 100:
            return None
        raw = await (self._reads.submit(_key(sid)) if self._reads else self.store.get(_key(sid)))
        if raw is None:
            return None
        r = json.loads(raw)
        session = Session(sid, r["m"], r["e"], r["x"], r["c"], r["s"], r["i"], r["a"])
        return session if await self.keep_alive(session) else None

    async def keep_alive(self, session: Session) -> bool:
        """Whether the session is still live (ending it if it is not), its record renewed when `last seen` is
        due: a session kept in memory between requests passes here on each of them."""
        now = clock.timestamp()
        if now - session.seen > session.idle or now - session.created > session.absolute:
            await self.end(session.sid)
            return False
        if now - session.seen > min(RENEW_EVERY, session.idle / 4):
            session.seen = now
            left = int(min(session.idle, session.created + session.absolute - now)) + 1
            try:
                await self.store.set(_key(session.sid), session.record(), expires_in=left)
            except OSError as exc:  # a full disk: the session lives on its last renewal, the request goes on
                if not storage_full(exc):
                    raise
        return True

    async def ping(self) -> bool | None:
        """Whether the session store answers (None: no Redis in this deployment)."""
        if not isinstance(self.store, SessionRedisStore):
            return None
        await self.store.ping()
        return True

    async def end(self, sid: str) -> None:
        await self.store.delete(_key(sid))

    async def close(self) -> None:
        if isinstance(self.store, RedisStore):
            async with self.store:  # leaving it closes the Redis connections
                pass


def csrf_ok(session: Session, token: str | None) -> bool:
    return bool(token) and secrets.compare_digest(str(token), session.csrf)
