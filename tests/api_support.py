"""Helpers for the API tests: clients, headers, row counts, and checking each response against
the hub's own OpenAPI document (with schemathesis's validator)."""

from __future__ import annotations

from datetime import date
from typing import Any

import schemathesis
from sqlalchemy import func, select

from statsservice.extensions import db
from statsservice.storage import clients as registry
from statsservice.storage.models import ROLE_ADMIN, ROLE_USER, ClientLabel, Rollup, Stats

FO_AGENT = "MONARC/2.13.1"


def new_client(name: str, *, admin: bool = False, local: bool = True, **kwargs: Any) -> str:
    """Register a client directly (bootstrap, as an operator would); return its token."""
    _client, token = registry.create_client(
        name, role=ROLE_ADMIN if admin else ROLE_USER, local=local, **kwargs
    )
    return token


def auth(token: str, agent: str = FO_AGENT) -> dict[str, str]:
    return {"X-API-KEY": token, "User-Agent": agent}


def counts() -> dict[str, int]:
    """Rows of every table an upload writes: what "the database is unchanged" compares."""
    return {
        model.__tablename__: db.session.scalar(select(func.count()).select_from(model))
        for model in (Stats, Rollup, ClientLabel)
    }


def snapshot() -> dict[str, Any]:
    """Counts plus the stored records themselves (a refused replacement must not alter them)."""
    db.session.expire_all()
    rows = db.session.execute(
        select(Stats.uuid, Stats.anr, Stats.type, Stats.date, Stats.data, Stats.n)
    ).all()
    return {"counts": counts(), "stats": sorted(tuple(map(str, row)) for row in rows)}


def with_date(records: list[dict], day: date) -> list[dict]:
    return [{**record, "date": day.isoformat()} for record in records]


class Conformance:
    """Validates responses against ``/api/v1/openapi.json`` as served by the app."""

    def __init__(self, http: Any):
        spec = http.get("/api/v1/openapi.json").get_json()
        self.schema = schemathesis.openapi.from_dict(spec)

    def check(self, method: str, path: str, response: Any) -> Any:
        """Raise if ``response`` (to ``method path``, path as in the document) breaks the schema."""
        self.schema[path][method.upper()].validate_response(response)
        return response
