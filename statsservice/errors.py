"""Every error leaves the hub as JSON ``{"message", "errors"}`` (SPEC §3), never as a 500 page.

Shared by the API, the dashboard's JSON and ``/metrics``: it belongs to no one layer, so ``web``
does not import ``api`` to answer an error.

``errors`` maps a dotted field path (``"3.data.risks.current"``, ``"date_from"``, ``"body"``) to
the list of reasons, so a client can point at the exact value it sent.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flask import Flask, jsonify
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

log = logging.getLogger(__name__)

#: the path used for an error about the request body as a whole
BODY = "body"
#: webargs nests messages under the location they came from; the client does not care
LOCATIONS = ("json", "query", "querystring", "form", "headers", "cookies", "files", "view_args", "path")


class ApiError(Exception):
    """Raise anywhere in a request to answer with a JSON error."""

    def __init__(self, status: int, message: str, errors: dict | None = None, headers: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.errors, self.headers = status, message, errors or {}, headers or {}


def flatten(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """Turn marshmallow/webargs nested messages into ``{"a.0.b": [reasons]}``.

    ``_schema`` (an error about the object itself) is reported on the object's own path.
    """
    out: dict[str, list[str]] = {}
    if isinstance(messages, Mapping):
        for key, value in messages.items():
            key = str(key)
            path = prefix if key == "_schema" else (f"{prefix}.{key}" if prefix else key)
            for sub_path, reasons in flatten(value, path).items():
                out.setdefault(sub_path, []).extend(reasons)
        return out
    if isinstance(messages, list | tuple):
        for item in messages:
            for sub_path, reasons in flatten(item, prefix).items():
                out.setdefault(sub_path, []).extend(reasons)
        return out
    out[prefix or BODY] = [str(messages)]
    return out


def webargs_messages(messages: Any) -> dict[str, list[str]]:
    """Flatten webargs messages, dropping the location level (``{"json": {...}}``)."""
    if isinstance(messages, Mapping) and set(messages) <= set(LOCATIONS):
        out: dict[str, list[str]] = {}
        for location_messages in messages.values():
            for path, reasons in flatten(location_messages).items():
                out.setdefault(path, []).extend(reasons)
        return out
    return flatten(messages)


def error_response(status: int, message: str, errors: dict | None = None, headers: dict | None = None):
    response = jsonify({"message": message, "errors": errors or {}})
    response.status_code = status
    response.headers.update(headers or {})
    return response


def register(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError):
        return error_response(exc.status, exc.message, exc.errors, exc.headers)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        # flask-smorest/webargs attach validation messages under exc.data
        data = getattr(exc, "data", None) or {}
        errors = webargs_messages(data["messages"]) if isinstance(data, dict) and "messages" in data else {}
        message = data.get("message") if isinstance(data, dict) and data.get("message") else exc.description
        if errors and exc.code == 422:
            message = "invalid " + ", ".join(sorted(errors))[:300]
        if isinstance(exc, RequestEntityTooLarge):
            limit = app.config.get("MAX_CONTENT_LENGTH")
            message = f"the request body is larger than the limit of {limit} bytes"
            errors = {BODY: [f"at most {limit} bytes"]}
        headers = dict(exc.get_headers()) if exc.code == 405 else {}
        headers.pop("Content-Type", None)
        return error_response(exc.code or 500, message or exc.name, errors, headers)

    @app.errorhandler(OperationalError)
    def _db_unavailable(exc: OperationalError):
        log.error("database unavailable: %s", exc.__class__.__name__)
        return error_response(503, "database unavailable, retry later", headers={"Retry-After": "5"})

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("unexpected error")
        return error_response(500, "internal error")
