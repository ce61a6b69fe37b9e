"""The service's log lines: a level (CDS_LOG_LEVEL) and a format (CDS_LOG_FORMAT: text, or
json for a log collector), for its own lines and gunicorn's alike.

Either way a line holds what the code put in it, never more: no format here adds a request's
headers, body or query, and the service's own messages name no patient and no token. An
exception is logged by its type only (its message may quote a record). Libraries log at INFO
at most, even when the service logs at DEBUG: their debug lines (URLs, SQL) may carry a
patient id.
"""

from __future__ import annotations

import json
import logging
import os
from datetime import UTC, datetime
from typing import Any

LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING,
          "error": logging.ERROR}
FORMATS = ("text", "json")
TEXT_FORMAT = "[%(asctime)s] [%(levelname)s] %(name)s: %(message)s"
QUIET = {"alembic.runtime.plugins": logging.WARNING}  # seven lines of set-up noise per start


class LogSettingError(ValueError):
    pass


def log_settings() -> tuple[int, str]:
    """(level, format) from CDS_LOG_LEVEL (default info) and CDS_LOG_FORMAT (default text)."""
    level = (os.environ.get("CDS_LOG_LEVEL") or "info").strip().lower()
    form = (os.environ.get("CDS_LOG_FORMAT") or "text").strip().lower()
    if level not in LEVELS:
        raise LogSettingError(f"CDS_LOG_LEVEL must be one of {', '.join(LEVELS)}: {level!r:.40}")
    if form not in FORMATS:
        raise LogSettingError(f"CDS_LOG_FORMAT must be text or json: {form!r:.40}")
    return LEVELS[level], form


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info and record.exc_info[0] is not None:
            line["exception"] = record.exc_info[0].__name__
        return json.dumps(line, ensure_ascii=False)


def formatter(form: str) -> logging.Formatter:
    return JsonFormatter() if form == "json" else logging.Formatter(TEXT_FORMAT)


def configure(level: int, form: str) -> None:
    """The root handler on stderr, the service's own level, libraries at INFO at most."""
    handler = logging.StreamHandler()
    handler.setFormatter(formatter(form))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(max(level, logging.INFO))
    logging.getLogger("cds_service").setLevel(level)
    for name, quiet in QUIET.items():
        logging.getLogger(name).setLevel(quiet)
