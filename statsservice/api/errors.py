"""Every error leaves the hub as JSON ``{"message", "errors"}`` (SPEC §3), never as a 500 page."""

from __future__ import annotations

import logging

from flask import Flask, jsonify
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


class ApiError(Exception):
    """Raise anywhere in a request to answer with a JSON error."""

    def __init__(self, status: int, message: str, errors: dict | None = None, headers: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.errors, self.headers = status, message, errors or {}, headers or {}


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
        errors = {}
        data = getattr(exc, "data", None) or {}
        if isinstance(data, dict) and "messages" in data:
            messages = data["messages"]
            # webargs nests by location ("json", "query"); flatten to field paths
            for location_errors in messages.values():
                errors.update(
                    location_errors if isinstance(location_errors, dict) else {"_": location_errors}
                )
        message = data.get("message") if isinstance(data, dict) and data.get("message") else exc.description
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
