"""`/metrics` in Prometheus's text format, and the request metrics behind it (litestar's Prometheus
middleware: requests by route template, method and status, with latency histograms).

Off unless JIFEN_METRICS says who may read it: `loopback` (a scraper on the same host, never through the
proxy) or `token` (`Authorization: Bearer $JIFEN_METRICS_TOKEN`). Anyone else gets 404, as if it were not
there. Before answering, the scrape-time gauges (award lag, queues, cases, …) are read afresh.
"""

from __future__ import annotations

import hmac

from litestar import Request, Response, get
from litestar.connection import ASGIConnection
from litestar.exceptions import NotFoundException
from litestar.handlers import BaseRouteHandler
from litestar.plugins.prometheus import PrometheusConfig, PrometheusController
from litestar.types import Middleware

from points.infra.config import Settings
from points.ops import gauges

LOOPBACK = ("127.0.0.1", "::1")


def request_metrics(config: Settings) -> list[Middleware]:
    """The middleware that counts requests, when metrics are on."""
    if config.metrics == "off":
        return []
    return [PrometheusConfig(app_name="jifen", prefix="jifen", group_path=True,
                             exclude=["/metrics", "/static"]).middleware]


async def may_read_metrics(connection: ASGIConnection, handler: BaseRouteHandler) -> None:
    settings: Settings = connection.app.state.settings
    if settings.metrics == "loopback":
        allowed = (connection.client is not None and connection.client.host in LOOPBACK
                   and "x-forwarded-for" not in connection.headers)
    else:
        sent = connection.headers.get("authorization", "")
        allowed = bool(settings.metrics_token) and hmac.compare_digest(
            sent.encode(), f"Bearer {settings.metrics_token}".encode())
    if not allowed:
        raise NotFoundException()


class MetricsController(PrometheusController):
    guards = [may_read_metrics]
    include_in_schema = False

    @get(public=True, own_auth=True)
    async def get(self, request: Request) -> Response:
        await gauges.read_gauges(request.app.state.settings.redis_url)
        return await super().get.fn(self)


def metrics_routes(config: Settings) -> list[type[MetricsController]]:
    return [] if config.metrics == "off" else [MetricsController]
