"""Log lines: plain text by default, or (JIFEN_LOG_FORMAT=json) one JSON object per line, each carrying the
id of the request it belongs to — into the jobs that request enqueued, on whichever process runs them.

The request id lives in a context variable, set by the web layer for a request and by the worker for a
job; every log record made while it is set carries it (a record factory adds `request_id`), so no call
site passes it along. Log messages hold no full phone number and no precise place (the tests scan them).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

REQUEST_ID: ContextVar[str | None] = ContextVar("request_id", default=None)
WELL_FORMED = re.compile(r"[A-Za-z0-9._-]{8,64}")  # what a proxy's X-Request-ID may be for us to keep it
TEXT_FORMAT = "%(levelname)s - %(asctime)s - %(name)s - %(module)s - %(message)s"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname, "logger": record.name, "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None)}
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def formatter_config(fmt: str) -> dict[str, Any]:
    """The `standard` formatter for logging.config (litestar's LoggingConfig, uvicorn's log_config)."""
    return {"()": "points.infra.logs.JsonFormatter"} if fmt == "json" else {"format": TEXT_FORMAT}


def install_record_factory() -> None:
    """Every log record made from now on carries the request id current where it was made."""
    old = logging.getLogRecordFactory()
    if getattr(old, "carries_request_id", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = old(*args, **kwargs)
        record.request_id = REQUEST_ID.get()
        return record

    factory.carries_request_id = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


def configure(level: str, fmt: str) -> None:
    """Logging for a process litestar does not configure (worker.py)."""
    install_record_factory()
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    logging.basicConfig(level=level, handlers=[handler], force=True)


@contextmanager
def request_id(value: str | None) -> Iterator[None]:
    token = REQUEST_ID.set(value)
    try:
        yield
    finally:
        REQUEST_ID.reset(token)
