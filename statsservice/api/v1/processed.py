"""``/api/v1/stats/processed/``: chart-ready series computed by the processors (SPEC §3, §5).

Parameters come in a JSON body (what the Front Office sends) or in the query string. A user
client's ``anrs`` select among its own analyses (live: its own data); without ``anrs`` the answer
covers the whole hub as the public routes do, from released days only (SPEC §7). An admin's
``anrs`` select across every client.
"""

from __future__ import annotations

import http
from datetime import date
from typing import Any

import marshmallow as ma
import orjson
from flask import Response, current_app
from flask.views import MethodView
from marshmallow import validate, validates_schema

from statsservice import clock, jsontext
from statsservice.api.auth import current_client
from statsservice.api.v1.params import HubBlueprint
from statsservice.api.v1.schemas import StrictDate, UUIDList
from statsservice.domain.processors import PERIODS, ProcessorError
from statsservice.domain.processors.base import Flag
from statsservice.domain.registry import PROCESSORS, TYPE_NAMES
from statsservice.domain.release import ReleaseRules, coarsen_weights
from statsservice.errors import ApiError
from statsservice.storage import replica
from statsservice.storage.processed import run_processor
from statsservice.storage.stats import StatsFilter

URL_PREFIX = "/stats/processed"
blp = HubBlueprint("processed", __name__, description="Processed stats: chart-ready series")

DEFAULT_DAYS = 365


#: processor parameters are a handful of short keys; a longer text is not a mistake
MAX_PARAMS_CHARS = 8192


class ProcessorParams(ma.fields.Field):
    """An object (JSON body), a JSON object as text (query string), or PHP's ``[]`` for none."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> dict:
        if isinstance(value, str):
            try:
                value = jsontext.decode(value, max_chars=MAX_PARAMS_CHARS) if value.strip() else {}
            except jsontext.JsonTextError as exc:
                name = attr or "processor_params"
                raise ApiError(400, f"{name} is not a valid JSON object", {name: [str(exc)]}) from None
        if value == []:
            return {}
        if not isinstance(value, dict):
            raise ma.ValidationError("must be an object")
        return value


class ProcessedQuerySchema(ma.Schema):
    type = ma.fields.String(
        validate=validate.Length(max=64),
        metadata={"enum": list(TYPE_NAMES), "description": "stats type (default: the processor's)"},
    )
    processor = ma.fields.String(
        required=True,
        validate=validate.Length(max=128),
        metadata={"enum": sorted(PROCESSORS), "description": "see /api/v1/stats/processed/list"},
    )
    processor_params = ProcessorParams(
        load_default=dict,
        metadata={
            "type": "string",
            "description": "the processor's parameters: an object in a JSON body, a JSON object as "
            'text in the query string (e.g. {"risks_type": "informational"})',
        },
    )
    date_from = StrictDate(
        metadata={"description": f"first day (default: {DEFAULT_DAYS} days before date_to)"}
    )
    date_to = StrictDate(metadata={"description": "last day (default: today)"})
    anrs = UUIDList(
        load_default=list,
        metadata={
            "description": "only these analyses (a user's own; an admin's across clients); "
            "none: the whole hub"
        },
    )
    local_stats_only = Flag(load_default=False, metadata={"description": "only clients of this hub"})
    aggregation_period = ma.fields.String(
        load_default="day",
        validate=validate.OneOf(PERIODS),
        metadata={"description": "series bucket; dated by the first day of the period"},
    )

    @validates_schema
    def _ordered(self, data: dict, **kwargs: Any) -> None:
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            raise ma.ValidationError({"date_from": ["must not be after date_to"]})


class ProcessedSchema(ma.Schema):
    type = ma.fields.String(required=True)
    processor = ma.fields.String(required=True)
    data = ma.fields.Raw(required=True, metadata={"description": "the processor's output (SPEC §5)"})


class ProcessorInfoSchema(ma.Schema):
    name = ma.fields.String(required=True)
    description = ma.fields.String(required=True)
    type = ma.fields.String(required=True, metadata={"description": "the stats type it reads"})
    params = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.String(),
        required=True,
        metadata={"description": "accepted processor_params, with their meaning"},
    )


@blp.route("/")
class Processed(MethodView):
    @blp.authenticated()
    @blp.arguments(ProcessedQuerySchema, location="query")
    @blp.response(200, ProcessedSchema)
    @blp.alt_response(400, response=http.HTTPStatus(400).name)
    @replica.reads
    def get(self, params: dict) -> Response:
        """Run a processor over the selected records and return its chart-ready data."""
        client = current_client()
        date_to = params.get("date_to") or clock.today()
        date_from = params.get("date_from") or date.fromordinal(max(1, date_to.toordinal() - DEFAULT_DAYS))
        anrs = tuple(dict.fromkeys(params["anrs"]))
        selection = StatsFilter(
            client_id=client.id if anrs and not client.is_admin else None,
            date_from=date_from,
            date_to=date_to,
            anrs=anrs,
            local_only=params["local_stats_only"],
        )
        whole_hub = selection.client_id is None and not anrs
        try:
            # the whole hub is other organisations' data too: only released days (SPEC §7)
            data = run_processor(
                params["processor"],
                stats_type=params.get("type"),
                params=params["processor_params"],
                selection=selection,
                period=params["aggregation_period"],
            )
        except ProcessorError as exc:
            raise ApiError(400, exc.message, {exc.field: [exc.message]}) from None
        if whole_hub and client.local:
            # counts coarsened as on the public faces; another hub pulling the community's series
            # gets the released weights as they are (it rebuilds any period from them)
            data = coarsen_weights(data, ReleaseRules.from_config(current_app.config).min_clients)
        body = {"type": PROCESSORS[params["processor"]].type, "processor": params["processor"], "data": data}
        # A year of daily points is megabytes of JSON: orjson writes it ten times faster than json.
        return current_app.response_class(orjson.dumps(body), mimetype="application/json")


@blp.route("/list")
class ProcessorList(MethodView):
    @blp.response(200, ProcessorInfoSchema(many=True))
    def get(self) -> list[dict]:
        """Every processor: name, description, the stats type it reads, its parameters."""
        return [
            {"name": p.name, "description": p.description, "type": p.type, "params": p.describe_params()}
            for p in PROCESSORS.values()
        ]
