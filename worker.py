"""rq worker for production: `python worker.py` (run as many as you like).

Needs REDIS_URL (and normally DATABASE_URL). Each process preloads the domain,
opens one event loop and PostgreSQL pool for all its jobs, and takes part in
the periodic sweep: once per JIFEN_SWEEP_SECONDS, one worker (elected through
Redis) enqueues the sweep job that finds work the queue may have lost.
"""

from __future__ import annotations

import argparse
import logging
import sys
import threading
import time

from redis import Redis
from rq import Queue, SimpleWorker
from rq.serializers import JSONSerializer

from points import jobs, schemes
from points.config import ConfigError, settings
from points.dispatch import QUEUE_NAME, enqueue_rq
from rules import RulesError

log = logging.getLogger("jifen.worker")


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


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description="Jifen background worker (rq)")
    parser.add_argument("--burst", action="store_true", help="exit when the queue is empty")
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
    logging.basicConfig(level=config.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    jobs.run(jobs.startup())
    redis = Redis.from_url(config.redis_url)
    queue = Queue(QUEUE_NAME, connection=redis, serializer=JSONSerializer)
    stop = threading.Event()
    if not args.burst:
        threading.Thread(target=sweeper, args=(redis, queue, config.sweep_seconds, stop), daemon=True).start()
    worker = SimpleWorker([queue], connection=redis, serializer=JSONSerializer)
    try:
        worker.work(burst=args.burst, with_scheduler=not args.burst, logging_level=config.log_level)
    finally:
        stop.set()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
