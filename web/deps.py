"""Dependencies the controllers ask for by name, all kept on the app's state."""

from __future__ import annotations

from litestar.datastructures import State
from litestar.di import Provide

from points.config import Settings
from points.dispatch import Dispatcher
from points.intake import PhotoLimits
from points.photos import PhotoStore
from points.sms import Sender
from rules import Rules
from web.limits import Limiter
from web.sessions import Sessions

TYPES = {"rules": Rules, "dispatcher": Dispatcher, "store": PhotoStore, "limits": PhotoLimits, "limiter": Limiter,
         "sessions": Sessions, "sender": Sender, "settings": Settings}


def _provider(name: str):
    def provide(state: State):
        return state[name]

    provide.__annotations__ = {"state": State, "return": TYPES[name]}
    return provide


# Every controller asks for what it needs by name (`NamedDependency[...]`); nothing reaches into the state.
DEPENDENCIES = {name: Provide(_provider(name), sync_to_thread=False) for name in TYPES}
