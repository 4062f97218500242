"""What an operator watches as work happens, in Prometheus's terms: counters and histograms the code updates
(orders and their batch sizes, sweep runs and how long they take, deliveries to outside systems). They live
in this process (or, with PROMETHEUS_MULTIPROC_DIR set, in files every process on the host shares). The
gauges read from the source of truth when scraped are points/ops/gauges.py's.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

ORDERS = Counter("jifen_orders_total", "Orders decided, by outcome (placed, or the refusal's code)", ["outcome"])
ORDER_BATCH = Histogram("jifen_order_batch_size", "Orders written per transaction (group commit)",
                        buckets=(1, 2, 5, 10, 20, 50, 100, 200))
SWEEPS = Counter("jifen_sweep_runs_total", "Runs of the periodic sweep, by result", ["result"])
SWEEP_STEPS_FAILED = Counter("jifen_sweep_steps_failed_total", "Steps of the sweep that failed (the rest ran on)", ["step"])
SWEEP_SECONDS = Histogram("jifen_sweep_duration_seconds", "How long a sweep took",
                          buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300))
OUTBOX = Counter("jifen_outbox_sends_total", "Attempts to deliver forwarded case events, by outcome", ["outcome"])
