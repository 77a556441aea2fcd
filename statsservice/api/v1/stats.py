"""``/api/v1/stats/``: what a MONARC Front Office uploads, reads back and deletes (SPEC §3).

Uploads are idempotent on (client, anr, type, date), stored in one transaction per batch;
invalid records are reported one by one and never stored. Reads and deletes are scoped to the
caller (admins read everything, and still delete only their own records).
"""

from __future__ import annotations

import http
import json
import uuid as uuid_mod
from collections.abc import Iterator
from datetime import date
from typing import Any

from flask import Response, current_app, request, stream_with_context
from flask.views import MethodView
from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from statsservice import clock
from statsservice.api.auth import current_client
from statsservice.api.v1.params import HubBlueprint, request_json, text_errors
from statsservice.api.v1.schemas import (
    MAX_PAGE,
    UPLOAD_BODY,
    HubLimits,
    StatsListSchema,
    StatsQuerySchema,
    StatsRecordSchema,
    UploadReportSchema,
)
from statsservice.domain.dates import months_before
from statsservice.errors import BODY, ApiError, flatten
from statsservice.extensions import db
from statsservice.observability.metrics import record_upload
from statsservice.storage import ledger, partitions, replica
from statsservice.storage.models import Stats
from statsservice.storage.stats import NewRecord, StatsFilter, delete_analysis, stream_records, upsert_records
from statsservice.text import plural

URL_PREFIX = "/stats"
blp = HubBlueprint("stats", __name__, description="Stats records: upload, read back, delete")

DEFAULT_MONTHS = 3
STREAM_CHUNK = 64 * 1024  # characters per piece of a streamed list
Key = tuple[str, str, date]


def _list_body(metadata: dict, rows: Iterator[tuple[str, str, str, date, str]]) -> Iterator[str]:
    """The ``StatsListSchema`` document written as the rows stream in: each record's ``data`` is
    its JSON text from the database, never decoded and encoded again."""
    dumps = json.dumps
    chunk = [f'{{"metadata": {dumps(metadata)}, "data": [']
    size, separator = 0, ""
    for uuid, anr, stats_type, day, data in rows:
        part = (
            f'{separator}{{"uuid": {dumps(uuid)}, "anr": {dumps(anr)}, "type": {dumps(stats_type)}, '
            f'"date": "{day.isoformat()}", "data": {data}}}'
        )
        chunk.append(part)
        size, separator = size + len(part), ", "
        if size >= STREAM_CHUNK:
            yield "".join(chunk)
            chunk, size = [], 0
    chunk.append("]}")
    yield "".join(chunk)


def _ref(status: int) -> str:
    """Name of flask-smorest's registered response for a status (e.g. ``BAD_REQUEST``)."""
    return http.HTTPStatus(status).name


@blp.route("/")
class StatsCollection(MethodView):
    @blp.authenticated()
    @blp.arguments(StatsQuerySchema, location="query")
    @blp.response(200, StatsListSchema)
    @blp.alt_response(400, response=_ref(400))
    @replica.reads
    def get(self, params: dict) -> Response:
        """The caller's records of one type (an admin's: every client's), newest first.

        Parameters may come in a JSON body, as the Front Office sends them, or in the query.
        """
        client = current_client()
        date_to = params.get("date_to") or clock.today()
        date_from = params.get("date_from") or months_before(date_to, DEFAULT_MONTHS)
        selection = StatsFilter(
            type=params["type"],
            client_id=None if client.is_admin else client.id,
            date_from=date_from,
            date_to=date_to,
            anrs=tuple(dict.fromkeys(params["anrs"])),
        )
        offset, limit = params["offset"], params["limit"]
        total, rows = stream_records(
            selection, get_last=params["get_last"], offset=offset, limit=limit or MAX_PAGE
        )
        if not limit and total - offset > MAX_PAGE:
            limit = MAX_PAGE  # "all" was more than one page: say which page size applied
        metadata = {"count": total, "offset": offset, "limit": limit}
        return Response(stream_with_context(_list_body(metadata, rows)), mimetype="application/json")

    @blp.authenticated()
    @blp.doc(requestBody=UPLOAD_BODY)
    @blp.response(201, UploadReportSchema, description="Every record stored.")
    @blp.alt_response(
        207, schema=UploadReportSchema, description="Some records stored, the others refused (see errors)."
    )
    @blp.alt_response(400, response=_ref(400))
    @blp.alt_response(409, response=_ref(409))
    @blp.alt_response(413, response=_ref(413))
    @blp.alt_response(422, schema=UploadReportSchema, description="No record valid: nothing stored.")
    def post(self) -> Any:
        """Store a batch of records for the caller; a record already stored for its
        (anr, type, date) is replaced."""
        client = current_client()
        body = request_json(request, check_text=False)
        if not isinstance(body, list):
            raise ApiError(400, "the request body must be a JSON list of records", {BODY: ["must be a list"]})
        if not body:
            raise ApiError(
                400, "the request body holds no record", {BODY: ["at least one record is required"]}
            )
        maximum = current_app.config["MAX_BATCH_RECORDS"]
        if len(body) > maximum:
            raise ApiError(
                413, f"at most {maximum} records per request", {BODY: [f"at most {maximum} records"]}
            )

        records, errors = _validate(body, hub_client=not client.local)
        # a new month's partition is made before anything here reads stats: in a transaction of its
        # own, so two uploads of a new month never wait on each other's read locks
        partitions.ensure(record.date for record in records.values())
        _refuse_taken_uuids(client.id, records, errors)
        if not client.local:
            _refuse_rewrites(client.id, records, errors)
        refused = sorted(set(range(len(body))) - set(records))
        if not records:
            report = _report(f"no record stored: {len(refused)} refused", errors, [], refused)
            return report, 422
        uuids = _store(client.id, list(records.values()), hub=not client.local)
        stored = [uuids[(r.anr, r.type, r.date)] for r in records.values()]
        if refused:
            message = f"{plural(len(stored), 'record')} stored, {len(refused)} refused"
            return _report(message, errors, stored, refused), 207
        return _report(f"{plural(len(stored), 'record')} stored", {}, stored, [])


@blp.route("/<uuid:anr>")
class StatsAnalysis(MethodView):
    @blp.authenticated()
    @blp.response(204, description="The caller's records of this analysis are deleted.")
    @blp.alt_response(404, response=_ref(404))
    def delete(self, anr: uuid_mod.UUID) -> Response:
        """Delete the caller's records of one analysis (never another client's)."""
        removed = delete_analysis(current_client().id, str(anr))
        ledger.forget(current_client().id, str(anr))
        if not removed:
            raise ApiError(404, "no records of this analysis for this client", {"anr": ["not found"]})
        db.session.commit()
        return Response(status=204)


def _validate(body: list, *, hub_client: bool) -> tuple[dict[int, NewRecord], dict[str, list[str]]]:
    """Valid records by index, and the reasons of the others keyed ``index.field``."""
    cfg = current_app.config
    limits = HubLimits(
        min_weight=max(int(cfg["FEDERATION_MIN_ANALYSES"]), int(cfg["FEDERATION_MIN_CLIENTS"]), 1),
        max_weight=int(cfg["FEDERATION_MAX_WEIGHT"]),
    )
    schema = StatsRecordSchema(hub_client=hub_client, limits=limits)
    records: dict[int, NewRecord] = {}
    errors: dict[str, list[str]] = {}
    for index, raw in enumerate(body):
        bad_text = text_errors(raw, str(index))
        if bad_text:
            errors.update(bad_text)
            continue
        try:
            records[index] = schema.load_record(raw)
        except ValidationError as exc:
            errors.update(flatten(exc.messages, str(index)))
    return records, errors


def _refuse_taken_uuids(client_id: int, records: dict[int, NewRecord], errors: dict[str, list[str]]) -> None:
    """A supplied uuid may only name this client's record of the same key (or a new one)."""
    wanted = {r.uuid for r in records.values() if r.uuid}
    if not wanted:
        return
    owners: dict[str, tuple[int, Key]] = {
        row.uuid: (row.client_id, (row.anr, row.type, row.date))
        for row in db.session.execute(
            select(Stats.uuid, Stats.client_id, Stats.anr, Stats.type, Stats.date).where(
                Stats.uuid.in_(wanted)
            )
        )
    }
    for index, record in list(records.items()):
        if not record.uuid:
            continue
        key = (record.anr, record.type, record.date)
        owner = owners.setdefault(record.uuid, (client_id, key))
        if owner != (client_id, key):
            del records[index]
            errors[f"{index}.uuid"] = ["already names another record"]


def _refuse_rewrites(client_id: int, records: dict[int, NewRecord], errors: dict[str, list[str]]) -> None:
    """A hub releases each (type, day) once: the same aggregate again is an idempotent retry,
    a different one (a replay of an older push, or a second release) is refused."""
    if not records:
        return
    keys = {(r.anr, r.type, r.date) for r in records.values()}
    held = {
        (row.anr, row.type, row.date): (row.data, row.n)
        for row in db.session.execute(
            select(Stats.anr, Stats.type, Stats.date, Stats.data, Stats.n).where(
                Stats.client_id == client_id, Stats.anr.in_({key[0] for key in keys})
            )
        )
    }
    for index, record in list(records.items()):
        previous = held.get((record.anr, record.type, record.date))
        if previous is not None and previous != (record.data, record.n):
            del records[index]
            errors[f"{index}.date"] = [
                "this hub already released this type and day; it must withdraw it (DELETE) first"
            ]


def _store(client_id: int, records: list[NewRecord], *, hub: bool = False) -> dict[Key, str]:
    """Upsert the batch in one transaction; the uuid stored for each key. A concurrent upload of
    the same keys can win the race to insert: retry once, as a replace. A hub's records keep what
    each says of its differential privacy (``hub_privacy``) in the same transaction."""
    for _attempt in range(2):
        try:
            rows = upsert_records(client_id, records)
            if hub:
                ledger.declare(client_id, [(r.anr, r.type, r.date, r.dp) for r in records])
            db.session.commit()
            return {(row.anr, row.type, row.date): row.uuid for row in rows}
        except IntegrityError:
            db.session.rollback()
            partitions.forget()  # "no partition for the row": another process dropped a month
    raise ApiError(409, "a concurrent upload changed the same records: retry", {BODY: ["conflict"]})


def _report(message: str, errors: dict, stored: list[str], refused: list[int]) -> dict:
    record_upload(accepted=len(stored), refused=len(refused))
    return {"message": message, "errors": errors, "stored": stored, "refused": refused}
