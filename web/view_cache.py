"""Member views kept in this process between requests, and the announcement of what a request changed.

A rider's phone asks for the same few things again and again (session, balance, history, home page); under a
rush most of those reads find nothing changed. `ViewCache.kept` answers them from memory while the change feed
(points/infra/changes.py) has heard no change in the member's community since the view was read, and for at most
`MAX_AGE_S` seconds (by the one clock: what depends on the time alone, such as days left before points expire, is that
stale at worst). The feed must be live: the embedded mode, or a process that lost Redis, reads everything afresh.

`ChangeAnnouncer` is the other half: every request that may write (not GET, HEAD or OPTIONS) and was not
refused announces its caller's community — or every community, for admins, handlers, partners' calls and
callers not signed in — before its answer leaves, so the caller's next read, in any process, sees what it
just did. A route whose handler says ``changes_no_view=True`` (logging in, registering, asking for a code)
announces nothing when its caller is not signed in: it starts sessions, and changes no view anyone keeps.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Any, TypeVar

from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from points import clock
from points import scope as scope_rules
from points.infra import changes
from points.scope import Actor
from web.sessions import SAFE_METHODS

T = TypeVar("T")
MAX_AGE_S = 30.0


@dataclass
class _Kept:
    value: Any
    community: int
    mark: int
    at: float
    size: int


class ViewCache:
    """At most `max_bytes` (as the views' callers size them) of views, the least recently used leaving first."""

    def __init__(self, max_bytes: int, feed: changes.Feed = changes.FEED):
        self.max_bytes = max_bytes
        self.feed = feed
        self._kept: OrderedDict[Hashable, _Kept] = OrderedDict()
        self._bytes = 0

    def peek(self, key: Hashable) -> Any | None:
        """The view kept under `key`, if it is still good."""
        kept = self._kept.get(key)
        if kept is None:
            return None
        if not self.feed.still(kept.community, kept.mark) or not 0 <= clock.timestamp() - kept.at < MAX_AGE_S:
            self.drop(key)
            return None
        self._kept.move_to_end(key)
        return kept.value

    def mark(self) -> int:
        return self.feed.mark()

    def keep(self, key: Hashable, value: Any, community: int, mark: int, size: int = 1_000) -> None:
        """Keep a view read after `mark`, unless its community changed meanwhile (it may be stale already)."""
        if not self.feed.still(community, mark) or size > self.max_bytes // 10:
            return
        self.drop(key)
        self._kept[key] = _Kept(value, community, mark, clock.timestamp(), size)
        self._bytes += size
        while self._bytes > self.max_bytes:
            self._bytes -= self._kept.popitem(last=False)[1].size

    def drop(self, key: Hashable) -> None:
        kept = self._kept.pop(key, None)
        if kept is not None:
            self._bytes -= kept.size

    async def kept(self, key: Hashable, actor: Actor, read: Callable[[], Awaitable[T]],
                   size: Callable[[T], int] = lambda _: 1_000, worth: Callable[[T], bool] = lambda _: True) -> T:
        """The actor's view under `key`: kept, or read (and kept for the next request if it is `worth`
        keeping: a view that told something once, such as news since the last visit, is not)."""
        value = self.peek(key)
        if value is not None:
            return value
        mark = self.mark()
        value = await read()
        if worth(value):
            self.keep(key, value, actor.community_id, mark, size(value))
        return value


class ChangeAnnouncer(ASGIMiddleware):
    """Announces the community a writing request may have changed, once its handler has committed and before
    the answer starts, so the caller's next request sees the change whichever process it reaches."""

    scopes = (ScopeType.HTTP,)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        if scope["method"] in SAFE_METHODS:
            await next_app(scope, receive, send)
            return
        announced = False

        async def send_after_announcing(message: Message) -> None:
            nonlocal announced
            if not announced and message["type"] == "http.response.start":
                announced = True
                user = scope.get("user")
                quiet = user is None and getattr(scope.get("route_handler"), "opt", {}).get("changes_no_view")
                if message["status"] < 400 and not quiet:  # refused: nothing was written
                    await changes.announce(scope_rules.writes_reach(user))
            await send(message)

        await next_app(scope, receive, send_after_announcing)
