"""Request and response schemas of API v1 (SPEC §3), and how their custom fields read in OpenAPI.

Validation of a record's ``data`` belongs to its stats type (``statsservice.domain.stats_types``);
the record schema here only dispatches to it. The OpenAPI document describes each type's record
from those same schemas. It may be looser than the validation (some rules do not fit in a JSON
schema) but never stricter: whatever the document calls invalid, the hub refuses.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Annotated, Any, Literal

import marshmallow as ma
import msgspec
import orjson
from marshmallow import ValidationError, post_load, validate

from statsservice import clock
from statsservice.domain.deidentify import aggregate_anr
from statsservice.domain.federation.privacy import PERIODS
from statsservice.domain.processors.base import Flag
from statsservice.domain.registry import REGISTRY, TYPE_NAMES
from statsservice.domain.stats_types import StatsType
from statsservice.domain.stats_types.fields import IntKeyMap, NestedMap, Number
from statsservice.storage.stats import NewRecord

EARLIEST_DATE = date(2000, 1, 1)
MAX_PAGE = 10_000  # records per GET /stats/ page (limit=0 returns at most this many)
MAX_ANRS = 10_000  # analyses per filter: keeps every SQL statement under the bind-parameter limits
MAX_OFFSET = 2**31 - 1
MAX_WEIGHT = 10**9

DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")  # used with fullmatch: "$" would let a trailing "\n" in
UUID_RE = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


# --- fields ---------------------------------------------------------------------------------


class ErrorSchema(ma.Schema):
    """Every error body (SPEC §3)."""

    message = ma.fields.String(required=True)
    errors = ma.fields.Dict(required=True, metadata={"description": "field path -> reasons"})


class StrictDate(ma.fields.Date):
    """``YYYY-MM-DD`` only (``date.fromisoformat`` would also take week dates and compact forms)."""

    default_error_messages = {"invalid": "Not a valid date: expected YYYY-MM-DD (e.g. 2026-01-31)."}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> date:
        if not isinstance(value, str) or not DATE_RE.fullmatch(value):
            raise self.make_error("invalid", input=value, obj_type=self.OBJ_TYPE)
        return super()._deserialize(value, attr, data, **kwargs)


class CanonicalUUID(ma.fields.UUID):
    """A UUID in its canonical 8-4-4-4-12 form, normalised to lower case."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:  # type: ignore[override]
        if not isinstance(value, str) or not UUID_RE.fullmatch(value):
            raise self.make_error("invalid_uuid")
        return value.lower()


class UUIDList(ma.fields.List):
    """UUIDs as a JSON list, repeated query parameters (``anrs=a&anrs=b``) or ``anrs=a,b``."""

    def __init__(self, **kwargs: Any):
        super().__init__(CanonicalUUID(), validate=validate.Length(max=MAX_ANRS), **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> list[str]:
        if isinstance(value, str):
            value = [value]
        if isinstance(value, list) and all(isinstance(item, str) for item in value):
            value = [part for item in value for part in item.split(",")]
        return super()._deserialize(value, attr, data, **kwargs)


class WholeNumber(ma.fields.Integer):
    """An integer, or a JSON number or string holding one; never a silently truncated fraction."""

    def _validated(self, value: Any) -> int:
        if isinstance(value, float) and not value.is_integer():
            raise self.make_error("invalid", input=value)
        return super()._validated(value)


class OneOfSchemas(ma.fields.Raw):
    """A value already shaped by the view, documented as one of several schemas."""

    def __init__(self, schemas: list[type[ma.Schema]], **kwargs: Any):
        super().__init__(**kwargs)
        self.schemas = schemas


# --- stats records ---------------------------------------------------------------------------


def _record_date(value: date) -> None:
    latest = clock.today() + timedelta(days=1)
    if not EARLIEST_DATE <= value <= latest:
        raise ValidationError(f"must be between {EARLIEST_DATE} and {latest}")


def weights(data: Any, prefix: str = "data") -> list[tuple[str, float]]:
    """(path, value) of element weights ``n`` in normalised data (data schemas bound the depth)."""
    found: list[tuple[str, float]] = []
    if isinstance(data, dict):
        for key, value in data.items():
            path = f"{prefix}.{key}"
            if key == "n":
                found.append((path, value))
            else:
                found.extend(weights(value, path))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            found.extend(weights(value, f"{prefix}.{index}"))
    return found


def weight_paths(data: Any, prefix: str = "data") -> list[str]:
    """Paths of element weights ``n`` in normalised data."""
    if not may_hold_weights(data):
        return []
    return [path for path, _ in weights(data, prefix)]


def may_hold_weights(data: Any) -> bool:
    """False when no object in ``data`` has a key ``n``, decided in C: compact JSON writes such a
    key ``"n":``, which no string value can produce (a key ending in ``"n`` only costs a walk).
    Every Front Office record is checked, and the Python walk cost as much as validating it."""
    try:
        return b'"n":' in orjson.dumps(data)
    except TypeError:
        return True


@dataclass(frozen=True)
class HubLimits:
    """What a global hub accepts from a hub client (SPEC §7): its own k, and a maximum weight."""

    min_weight: int = 3
    max_weight: int = 100_000

    def errors(self, n: int | None, data: Any) -> dict[str, list[str]]:
        """Reasons to refuse an aggregate, by field path; none when it may be stored."""
        if n is None:
            return {"n": ["a hub's aggregate must say how many analyses are behind it"]}
        out: dict[str, list[str]] = {}
        if not self.min_weight <= n <= self.max_weight:
            out["n"] = [f"must be between {self.min_weight} (this hub's k) and {self.max_weight}"]
        for path, value in weights(data):
            if not self.min_weight <= value <= self.max_weight:
                out[path] = [
                    f"an element must weigh between {self.min_weight} (this hub's k) and {self.max_weight}"
                ]
        return out


class DpBlockSchema(ma.Schema):
    """What a hub's DP release says of itself (``FEDERATION_DP``, docs/PRIVACY.md): the period
    it covers, the yearly budget each organisation's contribution is protected at, and the
    standard deviation of the noise of each released sum."""

    class Meta:
        unknown = ma.RAISE

    period = ma.fields.String(required=True, validate=validate.OneOf(PERIODS))
    label = ma.fields.String(load_default="", validate=validate.Length(max=16))
    date_to = StrictDate(required=True)
    year = ma.fields.Integer(strict=True, required=True, validate=validate.Range(2000, 9999))
    epsilon = ma.fields.Float(
        required=True, allow_nan=False, validate=validate.Range(0, 10**6, min_inclusive=False)
    )
    delta = ma.fields.Float(required=True, allow_nan=False, validate=validate.Range(0, 1))
    unit = ma.fields.String(load_default="organisation", validate=validate.OneOf(["organisation"]))
    noise = ma.fields.Dict(
        keys=ma.fields.String(validate=validate.Length(1, 32)),
        values=ma.fields.Float(allow_nan=False, validate=validate.Range(0, 10**12)),
        load_default=dict,
        validate=validate.Length(max=16),
    )


class StatsRecordSchema(ma.Schema):
    """One uploaded record. Loads into a ``NewRecord`` with ``data`` normalised by its type.

    Only hub clients (federation, ``Client.local`` false) may send weights: ``n`` on the record
    and on its elements.
    """

    class Meta:
        unknown = ma.RAISE

    anr = CanonicalUUID(required=True)
    type = ma.fields.String(required=True, validate=validate.OneOf(TYPE_NAMES))
    date = StrictDate(required=True, validate=_record_date)
    data = ma.fields.Raw(required=True)
    uuid = CanonicalUUID(load_default=None, allow_none=False)
    n = ma.fields.Integer(
        strict=True, validate=validate.Range(1, MAX_WEIGHT), load_default=None, allow_none=False
    )
    dp = ma.fields.Nested(
        DpBlockSchema,
        load_default=None,
        metadata={
            "description": "a hub's differential-privacy release (hub clients only): period and budget"
        },
    )

    def __init__(self, *, hub_client: bool, limits: HubLimits | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.hub_client = hub_client
        self.limits = limits or HubLimits()

    def load_record(self, raw: Any) -> NewRecord:
        """``load`` with the envelope checked by msgspec first (it took a third of a record's
        validation once the data had its fast path); marshmallow words whatever it declines."""
        try:
            fast = msgspec.convert(raw, _FastRecord)
            day = date.fromisoformat(fast.date)
            _record_date(day)
        except (msgspec.ValidationError, ValueError, ValidationError):
            return self.load(raw)
        # what the fields load (missing uuid and n load as None; null is theirs to refuse)
        if fast.data is None or (fast.uuid is None and "uuid" in raw) or (fast.n is None and "n" in raw):
            return self.load(raw)
        record = {
            "anr": fast.anr.lower(),
            "type": fast.type,
            "date": day,
            "data": fast.data,
            "uuid": None if fast.uuid is None else fast.uuid.lower(),
            "n": fast.n,
        }
        try:
            return self._to_record(record)
        except ValidationError as exc:  # as marshmallow reports an error raised by a post_load
            raise ValidationError(exc.normalized_messages()) from None

    @post_load
    def _to_record(self, record: dict, **kwargs: Any) -> NewRecord:
        try:
            data = REGISTRY[record["type"]].load(record["data"])
        except ValidationError as exc:
            raise ValidationError(exc.messages, field_name="data") from None
        block = record.get("dp")
        if not self.hub_client:
            refused = (["n"] if record["n"] is not None else []) + weight_paths(data)
            if refused:
                reason = "weights are accepted only from hub clients (federation)"
                raise ValidationError({path: [reason] for path in refused})
            if block is not None:
                raise ValidationError({"dp": ["only a hub's aggregate may say it is a DP release"]})
        else:
            if block is not None and not record["date"] <= block["date_to"] <= record["date"] + timedelta(
                days=31
            ):
                raise ValidationError(
                    {"dp.date_to": ["the period ends at most 31 days after the record's date"]}
                )
            refused_weights = self.limits.errors(record["n"], data)
            if refused_weights:
                raise ValidationError(refused_weights)
            # keyed by (pushing hub, type, day): the name a hub chose does not matter
            record["anr"] = aggregate_anr(record["type"], record["date"])
        return NewRecord(
            anr=record["anr"],
            type=record["type"],
            date=record["date"],
            data=data,
            n=record["n"] or 1,
            uuid=record["uuid"],
            dp=block,
        )


class _FastRecord(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The envelope ``StatsRecordSchema`` checks, in C; a subset of what it accepts (ASCII digits
    in dates, no ``null`` data), so anything else still gets marshmallow's own errors."""

    anr: Annotated[str, msgspec.Meta(pattern=rf"\A{UUID_RE.pattern}\Z")]
    type: Literal[TYPE_NAMES]  # type: ignore[valid-type]
    date: Annotated[str, msgspec.Meta(pattern=r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")]
    data: Any
    uuid: Annotated[str, msgspec.Meta(pattern=rf"\A{UUID_RE.pattern}\Z")] | None = None
    n: Annotated[int, msgspec.Meta(ge=1, le=MAX_WEIGHT)] | None = None


class StatsQuerySchema(ma.Schema):
    """``GET /stats/`` parameters, from the JSON body (what the Front Office sends) or the query."""

    type = ma.fields.String(required=True, validate=validate.OneOf(TYPE_NAMES))
    date_from = StrictDate(metadata={"description": "first day (default: 3 months before date_to)"})
    date_to = StrictDate(metadata={"description": "last day (default: today)"})
    anrs = UUIDList(
        load_default=list,
        metadata={"description": "only these analyses (repeat the parameter, or separate with commas)"},
    )
    get_last = Flag(
        numbers=False,
        load_default=False,
        metadata={"description": "only the latest record of each analysis; dates ignored"},
    )
    offset = WholeNumber(load_default=0, validate=validate.Range(0, MAX_OFFSET))
    limit = WholeNumber(
        load_default=0,
        validate=validate.Range(0, MAX_PAGE),
        metadata={"description": f"page size; 0 = all (at most {MAX_PAGE} per page)"},
    )


class MetadataSchema(ma.Schema):
    count = ma.fields.Integer(required=True, metadata={"description": "records matching, before paging"})
    offset = ma.fields.Integer(required=True)
    limit = ma.fields.Integer(
        required=True, metadata={"description": f"page size applied; 0 = all (when at most {MAX_PAGE})"}
    )


class UploadReportSchema(ErrorSchema):
    """What ``POST /stats/`` did with each record of the batch (201, 207 or 422)."""

    stored = ma.fields.List(
        ma.fields.String(metadata={"format": "uuid"}),
        required=True,
        metadata={"description": "uuid of each stored record, in batch order (refused ones skipped)"},
    )
    refused = ma.fields.List(
        ma.fields.Integer(),
        required=True,
        metadata={"description": "indexes of refused records; `errors` says why, keyed `index.field`"},
    )


# --- clients -------------------------------------------------------------------------------


class ClientMeSchema(ma.Schema):
    name = ma.fields.String(required=True)
    token = ma.fields.String(required=True, metadata={"description": "echo of the X-API-KEY used"})
    role = ma.fields.Integer(required=True, metadata={"description": "1 user, 2 admin"})
    is_sharing_enabled = ma.fields.Boolean(required=True)


class SharingPatchSchema(ma.Schema):
    class Meta:
        unknown = ma.RAISE

    is_sharing_enabled = Flag(numbers=False, required=True)


def _printable_ascii(value: str) -> None:
    if not all("!" <= char <= "~" for char in value):
        raise ValidationError("must be printable ASCII without spaces")


class ClientCreateSchema(ma.Schema):
    class Meta:
        unknown = ma.RAISE

    name = ma.fields.String(required=True, validate=[validate.Length(1, 255), validate.Regexp(r"^\s*\S")])
    token = ma.fields.String(
        validate=[validate.Length(16, 255), _printable_ascii],
        metadata={
            "pattern": "^[!-~]+$",
            "description": "the client's API key (printable ASCII, no spaces); generated when omitted",
        },
    )
    is_sharing_enabled = Flag(numbers=False, load_default=True)


class ClientCreatedSchema(ma.Schema):
    uuid = ma.fields.String(required=True, metadata={"format": "uuid"})
    name = ma.fields.String(required=True)
    role = ma.fields.Integer(required=True)
    token = ma.fields.String(required=True, metadata={"description": "shown once; only its hash is kept"})
    is_sharing_enabled = ma.fields.Boolean(required=True)


# --- OpenAPI: one documented record per stats type -------------------------------------------


class _DocRecord(ma.Schema):
    class Meta:
        unknown = ma.RAISE


def _data_field(stats_type: StatsType) -> ma.fields.Field:
    nested = ma.fields.Nested(stats_type.schema)
    return (
        ma.fields.List(nested, required=True)
        if stats_type.many
        else ma.fields.Nested(stats_type.schema, required=True)
    )


def _doc_record(stats_type: StatsType, *, stored: bool) -> type[ma.Schema]:
    title = stats_type.name.capitalize()
    fields: dict[str, ma.fields.Field] = {
        "anr": ma.fields.UUID(required=True),
        "type": ma.fields.String(required=True, validate=validate.OneOf([stats_type.name])),
        "date": ma.fields.Date(required=True),
        "data": _data_field(stats_type),
    }
    if stored:
        fields["uuid"] = ma.fields.UUID(required=True)
        return type(f"{title}StoredRecordSchema", (ma.Schema,), fields)
    fields["uuid"] = ma.fields.UUID(metadata={"description": "keep this uuid for a new record"})
    fields["n"] = ma.fields.Integer(
        validate=validate.Range(1, MAX_WEIGHT),
        metadata={"description": "analyses behind an aggregate (hub clients only)"},
    )
    fields["dp"] = ma.fields.Nested(
        DpBlockSchema, metadata={"description": "a hub's differential-privacy release (hub clients only)"}
    )
    return type(f"{title}RecordSchema", (_DocRecord,), fields)


UPLOAD_RECORDS = [_doc_record(t, stored=False) for t in REGISTRY.values()]
STORED_RECORDS = [_doc_record(t, stored=True) for t in REGISTRY.values()]

UPLOAD_BODY = {
    "required": True,
    "description": (
        "A JSON list of records, each stored for the caller and identified by (anr, type, date): "
        "uploading the same key again replaces it. `date` is between 2000-01-01 and tomorrow. "
        "Numbers may be decimal strings, empty maps `[]`, dense integer-keyed maps JSON lists."
    ),
    "content": {
        "application/json": {"schema": {"type": "array", "minItems": 1, "items": {"oneOf": UPLOAD_RECORDS}}}
    },
}


class StatsListSchema(ma.Schema):
    metadata = ma.fields.Nested(MetadataSchema, required=True)
    data = ma.fields.List(OneOfSchemas(STORED_RECORDS), required=True)


def _custom_fields2properties(self: Any, field: ma.fields.Field, ret: dict, **kwargs: Any) -> dict:
    """apispec attribute function for the hub's own fields (``self`` is the OpenAPI converter)."""
    if isinstance(field, Number):
        numeric: dict[str, Any] = {"type": "integer" if field.integer else "number", "minimum": 0}
        if field.maximum is not None:
            numeric["maximum"] = field.maximum
        return {"anyOf": [numeric, {"type": "string", "minLength": 1, "maxLength": 40}]}
    if isinstance(field, IntKeyMap):
        values = self.field2property(field.values)
        return {
            "anyOf": [
                {"type": "object", "additionalProperties": values},
                {"type": "array", "description": "a dense map: index = key"},
            ],
            "description": "keys are non-negative integers",
        }
    if isinstance(field, NestedMap):
        target = ret.pop("$ref", None)
        target = {"$ref": target} if target else ret.pop("allOf", [{}])[0]
        return {"anyOf": [target, {"type": "array", "maxItems": 0, "description": "PHP's empty map"}]}
    if isinstance(field, OneOfSchemas):
        return {"oneOf": [self.resolve_nested_schema(schema) for schema in field.schemas]}
    return {}


def register_openapi(api: Any) -> None:
    """Teach the API's OpenAPI converter the hub's fields; call before registering blueprints."""
    api.ma_plugin.converter.add_attribute_function(_custom_fields2properties)
