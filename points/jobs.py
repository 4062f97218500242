"""Where the previous release kept the background jobs (now points/ops/jobs.py). rq stores a queued job by
its function's dotted path, so a job that release queued names `points.jobs.<function>`: these names stay
importable for one release, while an upgrade serves both. Remove this module in the release after."""

from points.ops.jobs import award_pending, deliver_outbox, sweep

__all__ = ["award_pending", "deliver_outbox", "sweep"]
