"""Request parsing shared by the v1 blueprints.

The MONARC Front Office sends the parameters of its GET requests in a JSON body; SPEC §3 also
wants them in the query string. ``HubParser`` makes the "query" location read both (JSON body
keys win), so the OpenAPI document describes them as ordinary query parameters.
Use ``HubBlueprint`` instead of flask-smorest's ``Blueprint`` for every v1 resource, and
``@blp.authenticated()`` on every view that needs an API key.

Every JSON body goes through ``parse_json``: it refuses what Python's ``json`` would let through
but a database or a client cannot take (NaN, Infinity, NUL characters, lone surrogates, nesting
deep enough to exhaust the stack, numbers with thousands of digits, an object naming a key twice)
with a 400 naming the place.
"""

from __future__ import annotations

import http
import re
from collections.abc import Callable
from typing import Any

import flask
import marshmallow as ma
import orjson
from flask_smorest import Blueprint
from webargs import core
from webargs.flaskparser import FlaskParser
from werkzeug.wsgi import LimitedStream

from statsservice import jsontext
from statsservice.api.auth import require_client
from statsservice.errors import BODY, ApiError

#: characters no stored text may hold: PostgreSQL refuses NUL, UTF-8 cannot encode lone surrogates
BAD_TEXT = re.compile("[\x00\ud800-\udfff]")
MAX_TEXT_ERRORS = 20


#: the error message of a refused body, by ``JsonTextError.kind``
BODY_MESSAGES = {
    "encoding": "the request body is not UTF-8",
    "depth": "the request body is nested too deeply",
    "duplicate": "the request body names a key twice in one object",
}


def parse_json(raw: bytes, *, check_text: bool = True) -> Any:
    """Decode a JSON body or raise a 400 ``ApiError`` saying why."""
    try:
        value = jsontext.decode(raw)
    except jsontext.JsonTextError as exc:
        message = BODY_MESSAGES.get(exc.kind, "the request body is not valid JSON")
        raise ApiError(400, message, {BODY: [str(exc)]}) from None
    if check_text:
        refuse_bad_text(value)
    return value


def clean_text(value: Any) -> bool:
    """True when no key or string in ``value`` holds NUL or a surrogate, decided in C.

    orjson refuses every surrogate and escapes NUL as ``\\u0000`` (a literal backslash before
    ``u0000`` only causes a needless walk). The walk of every string cost an upload as much as
    validating it; now it runs only for the rare value this check cannot clear.
    """
    try:
        return b"\\u0000" not in orjson.dumps(value)
    except TypeError:  # a surrogate, an integer beyond 64 bits, nesting past orjson's limit...
        return False


def bad_text_paths(value: Any, prefix: str = "") -> list[str]:
    """Dotted paths of keys or strings holding NUL or lone surrogates (iterative: any depth)."""
    if clean_text(value):
        return []
    found: list[str] = []
    stack: list[tuple[str, Any]] = [(prefix, value)]
    while stack and len(found) < MAX_TEXT_ERRORS:
        path, item = stack.pop()
        if isinstance(item, str):
            if BAD_TEXT.search(item):
                found.append(path or BODY)
        elif isinstance(item, dict):
            for key, sub in item.items():
                key_text = str(key)
                sub_path = f"{path}.{key_text}" if path else key_text
                if BAD_TEXT.search(key_text):
                    found.append(path or BODY)
                    continue
                stack.append((sub_path, sub))
        elif isinstance(item, list):
            stack.extend((f"{path}.{i}" if path else str(i), sub) for i, sub in enumerate(item))
    return sorted(found)


def text_errors(value: Any, prefix: str = "") -> dict[str, list[str]]:
    return {
        path: ["text must not contain NUL characters or lone surrogates"]
        for path in bad_text_paths(value, prefix)
    }


def refuse_bad_text(value: Any) -> None:
    errors = text_errors(value)
    if errors:
        raise ApiError(400, "the request body holds text that cannot be stored", errors)


def body_bytes(req: flask.Request) -> bytes:
    """The raw body, with the size limit enforced for chunked bodies too.

    Without a Content-Length, werkzeug stops reading at ``MAX_CONTENT_LENGTH`` and returns what
    it has; one more read tells a body that fits from one that was cut (413).
    """
    data = req.get_data(cache=True)
    stream = req.stream
    if req.content_length is None and isinstance(stream, LimitedStream) and stream.is_exhausted:
        stream.read(1)  # raises RequestEntityTooLarge when more was sent
    return data


def request_json(req: flask.Request, *, check_text: bool = True) -> Any:
    """The JSON body of a request that must carry one (400 when absent, not JSON, or mislabelled)."""
    if not core.is_json(req.mimetype):
        raise ApiError(
            400,
            "the request body must be JSON (Content-Type: application/json)",
            {"Content-Type": ["must be application/json"]},
        )
    raw = body_bytes(req)
    if not raw.strip():
        raise ApiError(400, "the request body is empty", {BODY: ["a JSON body is required"]})
    return parse_json(raw, check_text=check_text)


class HubParser(FlaskParser):
    DEFAULT_VALIDATION_STATUS = 422

    def _raw_load_json(self, req: flask.Request) -> Any:
        if not body_bytes(req).strip():
            return core.missing
        return request_json(req)

    def load_querystring(self, req: flask.Request, schema: ma.Schema) -> Any:
        args = super().load_querystring(req, schema)
        if req.method not in ("GET", "DELETE", "HEAD") or not body_bytes(req).strip():
            return args
        body = parse_json(body_bytes(req))
        if not isinstance(body, dict):
            raise ApiError(400, "the request body must be a JSON object", {BODY: ["not an object"]})
        merged = {key: args[key] for key in req.args}
        merged.update(body)
        return merged


#: what every authenticated operation may answer besides its own statuses
AUTH_ERRORS = (401, 403, 426, 429)


class HubBlueprint(Blueprint):
    ARGUMENTS_PARSER = HubParser()

    def authenticated(self, *, admin: bool = False) -> Callable:
        """Require an API key (and the admin role if asked) and document it: put it outermost,
        so a request without a valid key gets 401/403 before its parameters are looked at."""

        def decorator(view: Callable) -> Callable:
            wrapped = require_client(admin=admin)(view)
            wrapped = self.doc(security=[{"ApiKey": []}])(wrapped)
            for status in AUTH_ERRORS:
                wrapped = self.alt_response(status, response=http.HTTPStatus(status).name)(wrapped)
            return wrapped

        return decorator
