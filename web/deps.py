"""Dependencies the controllers ask for by name: those kept on the app's state, and the caller's scheme."""

from __future__ import annotations

from litestar import Request
from litestar.datastructures import State
from litestar.di import Provide

from points.areas import schemes
from points.infra.config import Settings
from points.infra.photo_store import PhotoStore
from points.infra.sms import Sender
from points.ops.dispatch import Dispatcher
from points.reports.intake import PhotoLimits
from points.scope import Actor
from rules import Rules
from web.limits import Limiter
from web.sessions import Sessions
from web.view_cache import ViewCache

TYPES = {"dispatcher": Dispatcher, "store": PhotoStore, "limits": PhotoLimits, "limiter": Limiter,
         "sessions": Sessions, "sender": Sender, "settings": Settings,
         "views": ViewCache}


def _provider(name: str):
    def provide(state: State):
        return state[name]

    provide.__annotations__ = {"state": State, "return": TYPES[name]}
    return provide


async def _rules(request: Request) -> Rules:
    """The scheme of the caller's community (the default scheme for a visitor not signed in)."""
    user = request.scope.get("user")
    return await schemes.for_actor(user) if isinstance(user, Actor) else schemes.current()


# Every controller asks for what it needs by name (`NamedDependency[...]`); nothing reaches into the state.
DEPENDENCIES = {**{name: Provide(_provider(name), sync_to_thread=False) for name in TYPES}, "rules": Provide(_rules)}
