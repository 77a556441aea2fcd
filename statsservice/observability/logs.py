"""Structured logs: one JSON line per event on the ``statsservice`` logger.

The handler belongs to that logger (not the root), so libraries that configure logging for
themselves (Alembic's ``fileConfig``, gunicorn) neither remove nor duplicate it. Lines carry only
what the code puts in them; as a second guard, the API key and bearer token of the current
request are replaced by ``[redacted]`` wherever they would appear, exception text included.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import sys
from datetime import UTC, datetime
from typing import Any

from flask import Flask, g, has_request_context, request

from statsservice.config import ConfigError

LOGGER = "statsservice"
REDACTED = "[redacted]"
_OWN = "_statsservice_handler"


def _secrets_in_request() -> list[str]:
    if not has_request_context():
        return []
    values = [request.headers.get("X-API-KEY", "")]
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer":
        values.append(credentials.strip())
    found = []
    for value in values:
        if len(value) >= 4:  # anything shorter would redact ordinary words
            found.append(value)
            found.append(json.dumps(value, ensure_ascii=False)[1:-1])  # as it appears inside JSON
    return found


def redact(line: str) -> str:
    for secret in _secrets_in_request():
        line = line.replace(secret, REDACTED)
    return line


class Formatter(logging.Formatter):
    """JSON (``as_json``) or ``key=value`` text; fields come from ``extra={"fields": {...}}``."""

    def __init__(self, as_json: bool = True):
        super().__init__()
        self.as_json = as_json

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        payload.update(getattr(record, "fields", {}) or {})
        if has_request_context() and "request_id" not in payload and g.get("request_id"):
            payload["request_id"] = g.request_id
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        if self.as_json:
            line = json.dumps(payload, ensure_ascii=False, default=str)
        else:
            line = " ".join(f"{key}={value}" for key, value in payload.items())
        return redact(line)


def configure(app: Flask) -> None:
    """(Re)attach this app's handler to the ``statsservice`` logger: destination, level, format."""
    logger = logging.getLogger(LOGGER)
    for handler in list(logger.handlers):
        if getattr(handler, _OWN, False):
            logger.removeHandler(handler)
            handler.close()
    path = app.config.get("LOG_FILE") or ""
    # WatchedFileHandler reopens the file after logrotate moves it
    handler = logging.handlers.WatchedFileHandler(path) if path else logging.StreamHandler(sys.stderr)
    setattr(handler, _OWN, True)
    handler.setFormatter(Formatter(as_json=str(app.config.get("LOG_FORMAT", "json")).lower() != "text"))
    level = str(app.config.get("LOG_LEVEL") or "INFO").upper()
    if not isinstance(logging.getLevelName(level), int):
        raise ConfigError(f"LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL, not {level!r}")
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False


def event(name: str, message: str, **fields: Any) -> None:
    """Log one structured event (``event`` is its kind: ``request``, ``cli``...)."""
    logging.getLogger(f"{LOGGER}.{name}").info(message, extra={"fields": {"event": name, **fields}})
