"""Structured logs: one JSON line per event on the ``statsservice`` logger (python-json-logger).

The handler belongs to that logger (not the root), so libraries that configure logging for
themselves (Alembic's ``fileConfig``, gunicorn) neither remove nor duplicate it. Lines carry only
what the code puts in them; as a second guard, the API key and bearer token of the current
request are replaced by ``[redacted]`` wherever they would appear, exception text included.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import re
import sys
from datetime import UTC, datetime
from typing import Any

from flask import Flask, g, has_request_context, request
from pythonjsonlogger.json import JsonFormatter

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


def _payload(record: logging.LogRecord) -> dict[str, Any]:
    """The fields of one line: time, level, logger, message, the event's fields, the request id."""
    payload: dict[str, Any] = {
        "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
        "level": record.levelname.lower(),
        "logger": record.name,
        "message": record.getMessage(),
    }
    payload.update(getattr(record, "fields", {}) or {})
    if has_request_context() and "request_id" not in payload and g.get("request_id"):
        payload["request_id"] = g.request_id
    return payload


class JsonLineFormatter(JsonFormatter):
    """One JSON object per line (python-json-logger); fields come from ``extra={"fields": {...}}``."""

    def __init__(self) -> None:
        super().__init__(json_ensure_ascii=False, json_default=str, rename_fields={"exc_info": "exception"})

    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        log_data.update(_payload(record))
        for key, value in message_dict.items():  # exc_info / stack_info, formatted by the library
            log_data[self.rename_fields.get(key, key)] = value

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class TextFormatter(logging.Formatter):
    """``key=value`` text (``LOG_FORMAT = "text"``), the same fields as the JSON lines."""

    def format(self, record: logging.LogRecord) -> str:
        payload = _payload(record)
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        return redact(" ".join(f"{key}={value}" for key, value in payload.items()))


ANSI = re.compile(r"\x1b\[[0-9;]*m")


class DevServerFilter(logging.Filter):
    """``flask run`` / ``statsservice run``: the hub's request line replaces Werkzeug's access line
    (one line per request, as under gunicorn), and colour codes are dropped when standard error is
    not a terminal (a log file or the journal)."""

    def __init__(self, drop_access_lines: bool):
        super().__init__()
        self.drop_access_lines = drop_access_lines

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.msg if isinstance(record.msg, str) else ""
        # WSGIRequestHandler.log_request logs '<address> - - [<date>] "%s" %s %s' at INFO
        if self.drop_access_lines and record.levelno == logging.INFO and message.endswith('"%s" %s %s'):
            return False
        if not sys.stderr.isatty():
            record.msg = ANSI.sub("", message) if message else record.msg
            if isinstance(record.args, tuple):
                record.args = tuple(ANSI.sub("", a) if isinstance(a, str) else a for a in record.args)
        return True


def _filter_dev_server(app: Flask) -> None:
    logger = logging.getLogger("werkzeug")
    for old in [f for f in logger.filters if isinstance(f, DevServerFilter)]:
        logger.removeFilter(old)
    logger.addFilter(DevServerFilter(drop_access_lines=bool(app.config.get("LOG_REQUESTS", True))))


def configure(app: Flask) -> None:
    """(Re)attach this app's handler to the ``statsservice`` logger: destination, level, format."""
    _filter_dev_server(app)
    logger = logging.getLogger(LOGGER)
    for handler in list(logger.handlers):
        if getattr(handler, _OWN, False):
            logger.removeHandler(handler)
            handler.close()
    path = app.config.get("LOG_FILE") or ""
    # WatchedFileHandler reopens the file after logrotate moves it
    handler = logging.handlers.WatchedFileHandler(path) if path else logging.StreamHandler(sys.stderr)
    setattr(handler, _OWN, True)
    as_text = str(app.config.get("LOG_FORMAT", "json")).lower() == "text"
    handler.setFormatter(TextFormatter() if as_text else JsonLineFormatter())
    level = str(app.config.get("LOG_LEVEL") or "INFO").upper()
    if not isinstance(logging.getLevelName(level), int):
        raise ConfigError(f"LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL, not {level!r}")
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False


def event(name: str, message: str, **fields: Any) -> None:
    """Log one structured event (``event`` is its kind: ``request``, ``cli``...)."""
    logging.getLogger(f"{LOGGER}.{name}").info(message, extra={"fields": {"event": name, **fields}})
