"""rq worker for production: `python worker.py` (run as many as you like).

Needs REDIS_URL (and normally DATABASE_URL). Each process preloads the domain,
opens one event loop and PostgreSQL pool for all its jobs, and takes part in
the periodic sweep: once per JIFEN_SWEEP_SECONDS, one worker (elected through
Redis) enqueues the sweep job that finds work the queue may have lost.

Nothing here forks. rq's own scheduler (which moves retries whose delay is up
back onto the queue) runs as a forked child that inherits the process's
database sockets; killed with its parent, such an orphan kept a transaction's
row locks open for good. Here the scheduler is a thread of the worker, so a
killed worker takes every connection with it. Started while Redis is down, the
worker waits for it instead of exiting.
"""

from __future__ import annotations

import argparse
import functools
import logging
import signal
import sys
import threading
import time

from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, SimpleWorker
from rq.scheduler import RQScheduler
from rq.serializers import JSONSerializer

from points.areas import schemes
from points.infra import logs
from points.infra.config import ConfigError, settings
from points.ops import jobs
from points.ops.dispatch import QUEUE_NAME, QUEUES, enqueue_rq, enqueue_rq_later, rq_queues
from rules import RulesError

log = logging.getLogger("jifen.worker")
SCHEDULER_EVERY_S = 1.0
REDIS_WAIT_S = (1, 2, 5, 10, 30)  # back-off while Redis is down at start; the last step repeats


class Worker(SimpleWorker):
    """rq's in-process worker; a job's log lines carry the id of the request that enqueued it."""

    def perform_job(self, job, queue, *args, **kwargs):
        with logs.request_id(job.meta.get("request_id")):
            return super().perform_job(job, queue, *args, **kwargs)


def sweeper(redis: Redis, queue: Queue, every: int, stop: threading.Event) -> None:
    while True:
        period = int(time.time() // every)
        try:
            if redis.set(f"jifen:sweep:{period}", "1", nx=True, ex=every * 2):
                enqueue_rq(queue, jobs.sweep, job_id=f"sweep-{period}")
        except Exception:
            log.exception("could not schedule the sweep; will try next period")
        if stop.wait(every):
            return


def scheduler(redis: Redis, stop: threading.Event) -> None:
    """rq's scheduler loop, in this process: one worker at a time holds the queue's lock and moves due
    retries back onto the queue."""
    rq_scheduler = RQScheduler(list(QUEUES), connection=redis, serializer=JSONSerializer)
    while not stop.is_set():
        try:
            if rq_scheduler.acquire_locks():
                rq_scheduler.enqueue_scheduled_jobs()
        except Exception:
            log.exception("the scheduler could not run; will try again")
        stop.wait(SCHEDULER_EVERY_S)
    try:
        rq_scheduler.release_locks()
    except RedisError:
        pass


def wait_for_redis(redis: Redis) -> None:
    for attempt in range(10**9):
        try:
            redis.ping()
            return
        except RedisError as exc:
            pause = REDIS_WAIT_S[min(attempt, len(REDIS_WAIT_S) - 1)]
            log.warning("Redis is not answering (%s); trying again in %d s", exc, pause)
            time.sleep(pause)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description="Jifen background worker (rq)")
    parser.add_argument("--burst", action="store_true", help="exit when the queue is empty")
    parser.add_argument("--queues", nargs="+", choices=QUEUES, default=list(QUEUES),
                        help=f"the queues to take jobs from, first first (default: both). A worker given only "
                             f"{QUEUES[1]} sends to outside systems and nothing else; one given only {QUEUES[0]} "
                             "never waits on them")
    args = parser.parse_args(argv)
    try:
        config = settings()
        schemes.current()
    except (ConfigError, RulesError) as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    if not config.redis_url:
        print("configuration error: REDIS_URL: is needed to run worker.py "
              "(without it the app runs jobs itself)", file=sys.stderr)
        return 2
    logs.configure(config.log_level, config.log_format)
    redis = Redis.from_url(config.redis_url, socket_connect_timeout=5)
    wait_for_redis(redis)
    jobs.run(jobs.startup())
    queues = rq_queues(redis)
    queue = queues[QUEUE_NAME]
    jobs.later = functools.partial(enqueue_rq_later, queues)  # a forwarded event's retry, when its back-off ends
    stop = threading.Event()
    if not args.burst:
        # The helper threads start with SIGTERM and SIGINT blocked, so those reach the main thread and wake it
        # from Redis's blocking dequeue: rq stops warmly at once. Landing on a helper thread, they waited for
        # that dequeue's timeout (minutes), and a supervisor's stop timed out.
        unblocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
        for target, extra in ((sweeper, (queue, config.sweep_seconds)), (scheduler, ())):
            threading.Thread(target=target, args=(redis, *extra, stop), daemon=True).start()
        signal.pthread_sigmask(signal.SIG_SETMASK, unblocked)
    # rq's worker needs a connection of its own: rq raises the socket timeout above its blocking
    # dequeue only for connections made after it starts, and one made earlier (with the 5 s of the
    # client above) timed out every idle dequeue, then backed off for up to a minute with jobs waiting.
    rq_redis = Redis.from_url(config.redis_url, socket_connect_timeout=5)
    worker = Worker([Queue(name, connection=rq_redis, serializer=JSONSerializer) for name in args.queues],
                    connection=rq_redis, serializer=JSONSerializer)
    try:
        worker.work(burst=args.burst, with_scheduler=False, logging_level=config.log_level)
    finally:
        stop.set()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
