"""The ASGI app (`app`). `python app.py` serves it on JIFEN_HOST:JIFEN_PORT."""

from __future__ import annotations

import sys

from points.infra.config import ConfigError, settings
from rules import RulesError

try:
    config = settings()
    from web.app import create_app

    app = create_app(config)
except (ConfigError, RulesError) as exc:
    print(f"configuration error: {exc}", file=sys.stderr)
    raise SystemExit(2) from None



def uvicorn_json_logging() -> dict:
    from points.infra.logs import formatter_config

    return {"version": 1, "disable_existing_loggers": False,
            "formatters": {"json": formatter_config("json")},
            "handlers": {"default": {"class": "logging.StreamHandler", "formatter": "json"}},
            "loggers": {"uvicorn": {"handlers": ["default"], "level": config.log_level, "propagate": False}}}


if __name__ == "__main__":
    import uvicorn

    # Behind a reverse proxy, the client address (for rate limits) and scheme (for Secure cookies) come from
    # X-Forwarded-For / X-Forwarded-Proto, trusted only from JIFEN_TRUSTED_PROXIES.
    json_logs = config.log_format == "json"  # then the app writes the access lines, as JSON
    uvicorn.run(app, host=config.host, port=config.port, log_level=config.log_level.lower(), proxy_headers=True,
                forwarded_allow_ips=config.trusted_proxies, access_log=not json_logs,
                **({"log_config": uvicorn_json_logging()} if json_logs else {}))
