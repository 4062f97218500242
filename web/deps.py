"""Dependencies the controllers ask for by name, all kept on the app's state."""

from __future__ import annotations

from litestar.datastructures import State
from litestar.di import Provide

from points.dispatch import Dispatcher
from points.intake import PhotoLimits
from points.photos import PhotoStore
from rules import Rules
from web.limits import Limiter


def provide_rules(state: State) -> Rules:
    return state.rules


def provide_dispatcher(state: State) -> Dispatcher:
    return state.dispatcher


def provide_store(state: State) -> PhotoStore:
    return state.store


def provide_limits(state: State) -> PhotoLimits:
    return state.limits


def provide_limiter(state: State) -> Limiter:
    return state.limiter


DEPENDENCIES = {
    "rules": Provide(provide_rules, sync_to_thread=False),
    "dispatcher": Provide(provide_dispatcher, sync_to_thread=False),
    "store": Provide(provide_store, sync_to_thread=False),
    "limits": Provide(provide_limits, sync_to_thread=False),
    "limiter": Provide(provide_limiter, sync_to_thread=False),
}
