"""marshmallow schemas of the public JSON routes: their query parameters and their answers.

Public answers never carry a client's name, uuid or token, nor an analysis or record uuid.
"""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate
from werkzeug.datastructures import MultiDict

from statsservice.domain.processors import PERIODS
from statsservice.domain.processors.base import Flag
from statsservice.errors import ApiError, flatten

MAX_DAYS = 3660


class QuerySchema(ma.Schema):
    """Query parameters: unknown names are refused, each name may appear once."""

    class Meta:
        unknown = ma.RAISE

    def load_args(self, args: MultiDict) -> dict:
        """Validate ``request.args``; a bad parameter is a 400 naming it."""
        repeated = {name: ["given more than once"] for name in args if len(args.getlist(name)) > 1}
        if repeated:
            raise ApiError(400, "invalid query parameters", repeated)
        try:
            return self.load(args.to_dict())
        except ma.ValidationError as exc:
            raise ApiError(400, "invalid query parameters", flatten(exc.messages)) from None


class WindowQuery(QuerySchema):
    days = ma.fields.Integer(
        load_default=365,
        validate=validate.Range(1, MAX_DAYS),
        metadata={"description": "window: the last N days up to today"},
    )
    local_stats_only = Flag(
        load_default=False, metadata={"description": "only records of this hub's own clients"}
    )
    date_from = ma.fields.Date(
        load_default=None,
        metadata={"description": "custom window: first day (with date_to; days is ignored)"},
    )
    date_to = ma.fields.Date(load_default=None, metadata={"description": "custom window: last day"})

    @ma.validates_schema
    def _custom_window(self, data: dict, **_kwargs) -> None:
        """A custom window names both ends, in order, and stays within MAX_DAYS."""
        start, end = data.get("date_from"), data.get("date_to")
        if (start is None) != (end is None):
            missing = "date_to" if end is None else "date_from"
            raise ma.ValidationError("date_from and date_to go together", missing)
        if start and end:
            if start > end:
                raise ma.ValidationError("after date_to", "date_from")
            if (end - start).days >= MAX_DAYS:
                raise ma.ValidationError(f"at most {MAX_DAYS} days", "date_from")


class PublicStatsQuery(WindowQuery):
    processor = ma.fields.String(
        load_default=None,
        validate=validate.Length(1, 64),
        metadata={"description": "processor name (default: the route's usual one)"},
    )
    last_stats = Flag(
        load_default=False, metadata={"description": "only the newest day with data (days is ignored)"}
    )
    period = ma.fields.String(load_default="day", validate=validate.OneOf(PERIODS))
    risks_type = ma.fields.String(
        load_default=None,
        metadata={
            "description": "risk and cartography processors: informational, operational or both, comma-separated"
        },
    )
    risks_state = ma.fields.String(
        load_default=None,
        metadata={
            "description": "risk and cartography processors: current, residual or both, comma-separated"
        },
    )
    controls = Flag(load_default=None, metadata={"description": "compliance processors: also each control"})


class CommunityQuery(WindowQuery):
    """A chart's processor over a window (a custom from/to or the last ``days``) and period: the
    community's figures computed as the chart computes its own."""

    processor = ma.fields.String(
        required=True,
        validate=validate.Length(1, 64),
        metadata={"description": "the processor of the local chart to compare with"},
    )
    period = ma.fields.String(load_default="day", validate=validate.OneOf(PERIODS))


class SeriesSchema(ma.Schema):
    """Answer of ``/stats/<kind>.json``: the processor's output and the selection behind it."""

    type = ma.fields.String(required=True)
    processor = ma.fields.String(required=True)
    period = ma.fields.String(required=True)
    date_from = ma.fields.Date(allow_none=True)
    date_to = ma.fields.Date(allow_none=True)
    local_stats_only = Flag(required=True)
    organisations = ma.fields.Integer(
        allow_none=True,
        metadata={
            "description": "the most organisations behind one released day of the window, "
            "rounded down to a multiple of 5 (two significant figures above 100), null below k (on a global hub: the hubs)"
        },
    )
    analyses = ma.fields.Integer(
        allow_none=True,
        metadata={
            "description": "the most analyses behind one released day of the window, rounded down to a multiple of 5 (two significant figures above 100), null below k"
        },
    )
    data = ma.fields.Raw(required=True, allow_none=True)


class CommunitySchema(ma.Schema):
    """The community's output of a processor over a window, rebuilt from the day series pulled
    from the global hub by ``stats_pull``."""

    type = ma.fields.String(required=True)
    processor = ma.fields.String(required=True)
    period = ma.fields.String(required=True)
    date_from = ma.fields.Date(required=True)
    date_to = ma.fields.Date(required=True)
    days = ma.fields.Integer(
        required=True, metadata={"description": "days of the window the community has data for"}
    )
    analyses = ma.fields.Integer(
        required=True, metadata={"description": "the most analyses behind one day of the window"}
    )
    fetched_at = ma.fields.DateTime(required=True, metadata={"description": "when it was pulled"})
    data = ma.fields.Raw(required=True, allow_none=True)


class TopItemSchema(ma.Schema):
    labels = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.String(allow_none=True))
    value = ma.fields.Float(required=True)


class MarkerSchema(ma.Schema):
    """An area on the map: rounded coordinates and what stands out, never who or how many."""

    latitude = ma.fields.Float(required=True)
    longitude = ma.fields.Float(required=True)
    threat = ma.fields.Nested(TopItemSchema, allow_none=True)
    vulnerability = ma.fields.Nested(TopItemSchema, allow_none=True)


class MapSchema(ma.Schema):
    metric = ma.fields.String(required=True, metadata={"description": "what ranks the top items"})
    markers = ma.fields.List(ma.fields.Nested(MarkerSchema), required=True)
    min_organisations = ma.fields.Integer(
        required=True,
        metadata={"description": "k: every area on the map has at least this many organisations"},
    )
    date_from = ma.fields.Date(allow_none=True)
    date_to = ma.fields.Date(allow_none=True)


class CountsSchema(ma.Schema):
    """Counts of released data only, each rounded down to a multiple of 5 (two significant figures above 100), null below k."""

    clients = ma.fields.Integer(
        required=True, allow_none=True, metadata={"description": "registered clients"}
    )
    organisations = ma.fields.Integer(
        required=True,
        allow_none=True,
        metadata={
            "description": "the most organisations behind one released day (on a global hub: the hubs "
            "behind the aggregates)"
        },
    )
    analyses = ma.fields.Integer(
        required=True, allow_none=True, metadata={"description": "the most analyses behind one released day"}
    )
    records = ma.fields.Integer(
        required=True, allow_none=True, metadata={"description": "records behind the released days"}
    )
    by_type = ma.fields.Dict(
        keys=ma.fields.String(), values=ma.fields.Integer(allow_none=True), required=True
    )


class DeclaredBudgetSchema(ma.Schema):
    """Hub aggregates a global hub holds under one declared DP budget."""

    epsilon = ma.fields.Float(required=True, metadata={"description": "ε per organisation and year"})
    delta = ma.fields.Float(required=True)
    period = ma.fields.String(required=True, metadata={"description": "month or week"})
    hubs = ma.fields.Integer(required=True)
    releases = ma.fields.Integer(required=True)
    first_date = ma.fields.Date(required=True)
    last_date = ma.fields.Date(required=True)
    types = ma.fields.List(ma.fields.String(), required=True)


class PrivacySchema(ma.Schema):
    """How the released figures are protected (docs/PRIVACY.md): ``exact`` (k organisations per
    cell), ``dp`` (this hub's yearly budget per organisation) or, on a global hub, which hub
    aggregates are DP releases and at what budget."""

    mode = ma.fields.String(required=True, metadata={"description": "exact, dp or global"})
    sentence = ma.fields.String(allow_none=True, metadata={"description": "the same in one sentence"})
    year = ma.fields.Integer()
    epsilon_budget = ma.fields.Float()
    epsilon_spent = ma.fields.Float()
    delta = ma.fields.Float()
    period = ma.fields.String()
    top = ma.fields.Integer()
    releases = ma.fields.Integer(metadata={"description": "DP releases of the year (this hub)"})
    exact_before = ma.fields.Date(
        allow_none=True, metadata={"description": "days of the year before this one were released exactly"}
    )
    exact_releases = ma.fields.Integer(metadata={"description": "hub aggregates without DP (global hub)"})
    dp_releases = ma.fields.Integer(metadata={"description": "hub aggregates released with DP (global hub)"})
    budgets = ma.fields.List(ma.fields.Nested(DeclaredBudgetSchema))


class AboutSchema(ma.Schema):
    name = ma.fields.String(required=True)
    version = ma.fields.String(required=True)
    mode = ma.fields.String(required=True)
    counts = ma.fields.Nested(CountsSchema, required=True)
    min_organisations = ma.fields.Integer(
        required=True, metadata={"description": "k, below which counts are not shown"}
    )
    release_delay_days = ma.fields.Integer(
        required=True, metadata={"description": "a day is public once this many days old"}
    )
    first_date = ma.fields.Date(allow_none=True)
    last_date = ma.fields.Date(allow_none=True)
    community_series = ma.fields.List(ma.fields.String(), required=True)
    privacy = ma.fields.Nested(PrivacySchema, required=True)
    links = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.String(), required=True)


# --- the cyber weather (web/weather.py) ------------------------------------------------------

WEATHER_TYPES = ("threat", "vulnerability", "risk", "cartography", "compliance")
WEATHER_METRICS = ("share", "count", "averageRate", "maxRisk", "value", "total", "current")


class WeatherFeedQuery(QuerySchema):
    lang = ma.fields.String(
        load_default=None, validate=validate.OneOf(("en", "fr")), metadata={"description": "en or fr"}
    )


class WeatherQuery(WeatherFeedQuery):
    """Optional filters of ``/stats/weather.json`` (one series: all three)."""

    type = ma.fields.String(load_default=None, validate=validate.OneOf(WEATHER_TYPES))
    key = ma.fields.String(load_default=None, validate=validate.Length(1, 200))
    metric = ma.fields.String(load_default=None, validate=validate.OneOf(WEATHER_METRICS))


class WeatherStateSchema(ma.Schema):
    category = ma.fields.String(required=True)
    state = ma.fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "calm, worrying, serious; null: not enough data"},
    )
    month = ma.fields.String(required=True)
    adverse = ma.fields.Integer(metadata={"description": "keys of the category with an adverse warning"})
    keys = ma.fields.Integer(metadata={"description": "keys of the category with a forecast"})


class WeatherWarningSchema(ma.Schema):
    id = ma.fields.String(required=True)
    series = ma.fields.String(required=True)
    type = ma.fields.String(required=True)
    key = ma.fields.String(required=True)
    label = ma.fields.String(required=True)
    metric = ma.fields.String(required=True)
    category = ma.fields.String(required=True)
    direction = ma.fields.String(required=True, metadata={"description": "rising or falling"})
    since = ma.fields.String(required=True, metadata={"description": "first week (Monday) of the move"})
    raised = ma.fields.String(metadata={"description": "the week the warning was first raised"})
    last_week = ma.fields.String(metadata={"description": "the last week it stood"})
    text = ma.fields.String(required=True)
    adverse = ma.fields.Boolean(required=True)
    anchor = ma.fields.String()
    before = ma.fields.Float(
        required=True,
        data_key="from",
        attribute="from",
        metadata={"description": "the week before the window"},
    )
    to = ma.fields.Float(required=True, metadata={"description": "the last week"})
    expected = ma.fields.Float(required=True, metadata={"description": "the forecast for the last week"})
    weeks = ma.fields.Integer(required=True, metadata={"description": "weeks between from and to"})


class WeatherPointSchema(ma.Schema):
    date = ma.fields.String(required=True)
    value = ma.fields.Float(required=True)


class WeatherForecastSchema(ma.Schema):
    date = ma.fields.String(required=True)
    mean = ma.fields.Float(required=True)
    lower80 = ma.fields.Float(required=True)
    upper80 = ma.fields.Float(required=True)
    lower95 = ma.fields.Float(required=True)
    upper95 = ma.fields.Float(required=True)


class WeatherBacktestSchema(ma.Schema):
    model = ma.fields.String(required=True, metadata={"description": "the forecaster used: a model or naive"})
    mase = ma.fields.Float(required=True, allow_none=True)
    coverage80 = ma.fields.Float(required=True)
    coverage95 = ma.fields.Float(required=True)
    naive_mase = ma.fields.Float(allow_none=True)
    beats_naive = ma.fields.Boolean()
    origins = ma.fields.Integer()
    horizon = ma.fields.Integer()
    points = ma.fields.Integer()


class WeatherSeriesSchema(ma.Schema):
    id = ma.fields.String(required=True)
    type = ma.fields.String(required=True)
    key = ma.fields.String(required=True)
    label = ma.fields.String(required=True)
    metric = ma.fields.String(required=True)
    category = ma.fields.String(required=True)
    anchor = ma.fields.String()
    status = ma.fields.String(
        required=True, metadata={"description": "forecast, or insufficient (not enough data)"}
    )
    weeks = ma.fields.Integer(metadata={"description": "weeks in a row the model is fitted on"})
    history = ma.fields.List(ma.fields.Nested(WeatherPointSchema), required=True)
    forecast = ma.fields.List(ma.fields.Nested(WeatherForecastSchema), required=True)
    backtest = ma.fields.Nested(WeatherBacktestSchema, required=True, allow_none=True)


class WeatherSchema(ma.Schema):
    """Answer of ``/stats/weather.json``."""

    status = ma.fields.String(required=True, metadata={"description": "ready, or empty (never computed)"})
    as_of = ma.fields.String(required=True, allow_none=True, metadata={"description": "last day covered"})
    period = ma.fields.String(required=True)
    month = ma.fields.String(allow_none=True)
    states = ma.fields.List(ma.fields.Nested(WeatherStateSchema), required=True)
    warnings = ma.fields.List(ma.fields.Nested(WeatherWarningSchema), required=True)
    series = ma.fields.List(ma.fields.Nested(WeatherSeriesSchema), required=True)
