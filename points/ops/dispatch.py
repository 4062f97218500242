"""Getting a job run soon: through rq when REDIS_URL is set, else by a worker
inside the app process. Both call the same job functions (points/ops/jobs.py).

Enqueueing happens after the database commit and is best effort: if it fails
(Redis down, process killed), the sweeper finds the work again.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol, runtime_checkable

import anyio
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, Retry
from rq.serializers import JSONSerializer

from points.infra import logs
from points.infra.db import Unavailable, connection_lost, storage_full
from points.infra.logs import REQUEST_ID
from points.ops import jobs

log = logging.getLogger(__name__)
QUEUE_NAME = "jifen"
# Jobs that call outside systems wait on them, up to JIFEN_OUTBOUND_SECONDS a call: they run in a lane of their
# own (an rq queue of their own; in the embedded mode, senders of their own), so an outside system that hangs
# never holds up an award.
OUTBOUND_QUEUE_NAME = "jifen-outbound"
QUEUES = (QUEUE_NAME, OUTBOUND_QUEUE_NAME)  # what worker.py listens on, first things first
OUTBOUND_SENDERS = 4  # the embedded mode's sending jobs at once
RETRY = Retry(max=5, interval=[2, 10, 60, 300, 900])


def lane(job: Callable[[], Any]) -> str:
    return OUTBOUND_QUEUE_NAME if job in jobs.OUTBOUND else QUEUE_NAME


@runtime_checkable
class Dispatcher(Protocol):
    async def enqueue(self, job: Callable[[], Any], job_id: str) -> None: ...
    async def start(self) -> None: ...
    async def stop(self) -> None: ...


def rq_queue(redis_url: str, name: str = QUEUE_NAME) -> Queue:
    return Queue(name, connection=Redis.from_url(redis_url, socket_connect_timeout=2, socket_timeout=5),
                 serializer=JSONSerializer)


def rq_queues(connection: Redis) -> dict[str, Queue]:
    """Each lane's queue, on one connection."""
    return {name: Queue(name, connection=connection, serializer=JSONSerializer) for name in QUEUES}


def enqueue_rq(queue: Queue, job: Callable[[], Any], job_id: str, request_id: str | None = None) -> None:
    queue.enqueue(job, job_id=job_id, retry=RETRY, job_timeout=300, result_ttl=600, failure_ttl=7 * 86400,
                  meta={"request_id": request_id})


def enqueue_rq_later(queues: dict[str, Queue], job: Callable[[], Any], delay: float) -> None:
    """Have rq run `job` after `delay` seconds (worker.py's scheduler thread moves it onto the queue then); jobs
    due in the same second are one."""
    due = int(time.time() + delay)
    try:
        queues[lane(job)].enqueue_at(datetime.fromtimestamp(due, UTC), job, job_id=f"{job.__name__}-at-{due}",
                                     retry=RETRY,
                         job_timeout=300, result_ttl=600, failure_ttl=7 * 86400)
    except RedisError as exc:
        log.warning("could not schedule %s (%s); the sweeper will find the work", job.__name__, exc)


class RQDispatcher:
    def __init__(self, redis_url: str):
        self.queue = rq_queue(redis_url)
        self.queues = rq_queues(self.queue.connection)

    async def enqueue(self, job: Callable[[], Any], job_id: str) -> None:
        try:
            await anyio.to_thread.run_sync(functools.partial(enqueue_rq, self.queues[lane(job)], job, job_id,
                                                             REQUEST_ID.get()))
        except RedisError as exc:
            log.warning("could not enqueue %s (%s); the sweeper will find the work", job_id, exc)

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        self.queue.connection.close()


class InProcessDispatcher:
    """The embedded default's worker: an asyncio task in the app, plus the periodic sweep."""

    def __init__(self, sweep_seconds: int):
        self.sweep_seconds = sweep_seconds
        self.queues: dict[str, asyncio.Queue[tuple[Callable[[], Any], str | None]]] = {
            name: asyncio.Queue() for name in QUEUES}
        self.pending: set[Callable[[], Any]] = set()
        self.tasks: list[asyncio.Task] = []
        self.timers: set[asyncio.TimerHandle] = set()

    async def enqueue(self, job: Callable[[], Any], job_id: str) -> None:
        self._put(job)

    def _put(self, job: Callable[[], Any]) -> None:
        if job in self.pending:  # a queued run will do this work too
            return
        self.pending.add(job)
        self.queues[lane(job)].put_nowait((job, REQUEST_ID.get()))  # its log lines carry the request that asked

    def later(self, job: Callable[[], Any], delay: float) -> None:
        timer = asyncio.get_running_loop().call_later(delay, lambda: (self.timers.discard(timer), self._put(job)))
        self.timers.add(timer)

    async def _work(self, queue: asyncio.Queue[tuple[Callable[[], Any], str | None]]) -> None:
        while True:
            job, request_id = await queue.get()
            self.pending.discard(job)
            with logs.request_id(request_id):
                for attempt in range(1, 4):
                    try:
                        await jobs.ASYNC[job]()
                        break
                    except Exception as exc:
                        if storage_full(exc) or connection_lost(exc) or isinstance(exc, Unavailable):
                            # nothing of it was kept: the next try, or the sweep, does the work
                            log.warning("job %s could not run (attempt %d): %s", job.__name__, attempt,
                                        "storage is full" if storage_full(exc) else exc)
                        else:
                            log.exception("job %s failed (attempt %d); retrying", job.__name__, attempt)
                        await asyncio.sleep(attempt)

    async def _sweep(self) -> None:
        while True:
            await self.enqueue(jobs.sweep, "sweep")
            await asyncio.sleep(self.sweep_seconds)

    async def start(self) -> None:
        jobs.later = self.later
        self.tasks = [asyncio.create_task(self._work(self.queues[QUEUE_NAME])), asyncio.create_task(self._sweep()),
                      *(asyncio.create_task(self._work(self.queues[OUTBOUND_QUEUE_NAME]))
                        for _ in range(OUTBOUND_SENDERS))]

    async def stop(self) -> None:
        jobs.later = None
        for timer in self.timers:
            timer.cancel()
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


def make_dispatcher(redis_url: str | None, sweep_seconds: int) -> Dispatcher:
    return RQDispatcher(redis_url) if redis_url else InProcessDispatcher(sweep_seconds)
