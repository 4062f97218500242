"""Group commit: calls that arrive together share one transaction (or one query).

Under a rush (hundreds of riders ordering the same helmet at 9:00) each order
written on its own pays for a whole transaction — eight round trips and a turn
on the reward's hot row — and the database spends its time on that, not on
orders. A `Batcher` lets the calls that arrive while one batch is being written
queue up and be written together as the next batch, so that cost is paid once
per batch. A call that finds the batcher idle is written at once: nothing ever
waits on a timer, so a quiet shop is as fast as before.

A batcher belongs to one process and one event loop. Correctness never depends
on it: the handler still takes its row locks, so batches from several
processes (or a batch and any other writer) serialise in the database as
single calls did.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class Batcher(Generic[T, R]):
    """`await batcher.submit(item)` → the handler's outcome for that item.

    The handler takes a list of items and returns one outcome per item, in
    order: a result, or an exception to raise for that item alone. When the
    handler raises for a whole batch, each item is tried again alone, so the
    exception reaches only the callers whose items fail on their own.
    """

    def __init__(self, handler: Callable[[list[T]], Awaitable[Sequence[R | BaseException]]], max_size: int):
        self._handler = handler
        self._max_size = max_size
        self._loop: asyncio.AbstractEventLoop | None = None
        self._waiting: list[tuple[T, asyncio.Future[R]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def submit(self, item: T) -> R:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # a new event loop (a CLI run, a test): nothing of the old one carries over
            self._loop, self._waiting, self._writer = loop, [], None
        future: asyncio.Future[R] = loop.create_future()
        self._waiting.append((item, future))
        if self._writer is None:
            # A context of its own: the writer must not run inside the first caller's transaction.
            self._writer = loop.create_task(self._write_batches(), context=contextvars.Context())
        return await future

    async def _write_batches(self) -> None:
        try:
            while self._waiting:
                # A caller that gave up (its request was cancelled) before its turn is not written.
                calls = [c for c in self._waiting[:self._max_size] if not c[1].done()]
                del self._waiting[:self._max_size]
                if calls:
                    await self._write(calls)
        finally:
            self._writer = None

    async def _write(self, calls: list[tuple[T, asyncio.Future[R]]]) -> None:
        try:
            outcomes = await self._handler([item for item, _ in calls])
        except asyncio.CancelledError:  # the loop is closing: nobody is left waiting for an answer
            for _, future in calls:
                future.cancel()
            raise
        except Exception as exc:
            if len(calls) > 1:
                # One caller's item may have failed the batch: each is written again on its own, so only the
                # item that fails alone fails.
                for call in calls:
                    await self._write([call])
                return
            outcomes = [exc]
        for (_, future), outcome in zip(calls, outcomes, strict=True):
            if future.done():
                continue
            if isinstance(outcome, BaseException):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)
