"""Property tests: whatever is uploaded, replaced or deleted through the API, every processor
answers exactly what the plain-Python oracle (``tests/oracle.py``) computes from the raw records.

Random histories go through HTTP (``POST /api/v1/stats/``, ``DELETE /api/v1/stats/<anr>``) from two
Front Office clients and one hub client sending weighted aggregates; random requests then go to
``GET /api/v1/stats/processed/`` as a user or an admin, with or without analyses (which exercise
the per-analysis rollups and the per-day sums), periods, date ranges, ``local_stats_only`` and
processor parameters. Example counts are kept moderate (``ORACLE_EXAMPLES``, default 25) and
derandomized: the suite runs these on SQLite and again on PostgreSQL, the same examples each time.
"""

from __future__ import annotations

import os
from datetime import date
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from statsservice.domain.deidentify import aggregate_anr
from statsservice.domain.registry import REGISTRY
from statsservice.domain.release import coarsen_weights
from statsservice.extensions import db
from tests import oracle
from tests.api_support import auth, new_client, release
from tests.approx import assert_close

EXAMPLES = int(os.environ.get("ORACLE_EXAMPLES", "25"))
SETTINGS = settings(
    max_examples=EXAMPLES,
    derandomize=True,  # the same examples on every run: CI failures reproduce
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)

#: release rules that suppress nothing: the oracle checks the arithmetic of every scope (the rules
#: themselves: tests/test_federation_push.py, tests/test_web_public.py, tests/test_privacy_attacks.py)
NO_SUPPRESSION = {"FEDERATION_MIN_CLIENTS": 1, "FEDERATION_MIN_ANALYSES": 1, "FEDERATION_DOMINANCE": 1.0}


@pytest.fixture(autouse=True)
def _no_suppression(app):
    app.config.update(NO_SUPPRESSION)


#: uploaders: (name, is a hub client sending weights)
UPLOADERS = {"fo-a": False, "fo-b": False, "hub": True}
ANRS = [f"00000000-0000-4000-8000-00000000000{i}" for i in range(1, 4)]
OBJECTS = [f"10000000-0000-4000-8000-00000000000{i}" for i in range(1, 5)]
REFERENTIALS = ["20000000-0000-4000-8000-000000000001", "20000000-0000-4000-8000-000000000002"]
CATEGORIES = ["Access 1", "Access 2", "Access 10"]
CODES = ["1.1", "1.2", "1.10"]
# Monday, Wednesday, new year, Sunday, quarter and half-year boundaries, another Monday
DATES = [
    date(2025, 12, 29),
    date(2025, 12, 31),
    date(2026, 1, 1),
    date(2026, 1, 4),
    date(2026, 3, 31),
    date(2026, 4, 1),
    date(2026, 6, 30),
    date(2026, 7, 6),
]
PERIODS = ["day", "week", "month", "quarter", "year"]


def object_labels(uuid: str) -> dict[str, str]:
    return {"label1": f"object {uuid[-1]}", "label2": f"objet {uuid[-1]}", "label3": "", "label4": "x"}


# --- random uploads ----------------------------------------------------------------------------

value = st.one_of(st.integers(0, 60), st.decimals(0, 100, places=2).map(str))
weight = st.one_of(st.none(), st.integers(1, 4), st.just("2.5"))


def with_weight(draw: Any, item: dict, hub: bool) -> dict:
    if hub:
        n = draw(weight)
        if n is not None:
            item["n"] = n
    return item


@st.composite
def threat_data(draw: Any, hub: bool) -> list[dict]:
    uuids = draw(st.lists(st.sampled_from(OBJECTS), unique=True, max_size=4))
    return [
        with_weight(
            draw,
            {
                "uuid": uuid,
                **object_labels(uuid),
                "count": draw(value),
                "maxRisk": draw(value),
                "averageRate": draw(st.decimals(0, 4, places=2).map(str)),
            },
            hub,
        )
        for uuid in uuids
    ]


@st.composite
def risk_data(draw: Any, hub: bool) -> dict:
    risks: dict[str, Any] = {}
    for state in draw(st.lists(st.sampled_from(oracle.STATES), unique=True)):
        kinds = {}
        for kind in draw(st.lists(st.sampled_from(oracle.KINDS), unique=True)):
            levels = draw(st.lists(st.sampled_from(oracle.LEVELS), unique=True))
            kinds[kind] = [{"level": level, "value": draw(value)} for level in levels]
        risks[state] = kinds or []  # PHP sends an empty map as []
    return {"risks": risks}


def dense(mapping: dict[str, Any], empty: Any) -> Any:
    """PHP's encoding of a map whose keys are 0..n: a list (index = key, gaps as ``empty``)."""
    return [mapping.get(str(i), empty) for i in range(max(map(int, mapping)) + 1)] if mapping else []


@st.composite
def cartography_data(draw: Any, hub: bool) -> dict:
    quirks = draw(st.booleans())
    risks: dict[str, Any] = {}
    for state in draw(st.lists(st.sampled_from(oracle.STATES), unique=True)):
        kinds: dict[str, Any] = {}
        for kind in draw(st.lists(st.sampled_from(oracle.KINDS), unique=True)):
            rows: dict[str, Any] = {}
            for impact in draw(st.lists(st.sampled_from(["0", "1", "2", "3"]), unique=True, max_size=3)):
                columns = draw(
                    st.lists(st.sampled_from(["0", "1", "2", "4", "6"]), unique=True, min_size=1, max_size=3)
                )
                cells = {column: draw(value) for column in columns}
                rows[impact] = dense(cells, None) if quirks else cells
            kinds[kind] = dense(rows, {}) if quirks else rows
        risks[state] = kinds or []
    return {"scales": {"impact": [0, 1, 2, 3]}, "risks": risks}


@st.composite
def compliance_data(draw: Any, hub: bool) -> list[dict]:
    out = []
    for referential in draw(st.lists(st.sampled_from(REFERENTIALS), unique=True)):
        sides: dict[str, list] = {}
        for side in ("current", "target"):
            categories = []
            for name in draw(st.lists(st.sampled_from(CATEGORIES), unique=True)):
                codes = draw(st.lists(st.sampled_from(CODES), unique=True, max_size=2))
                controls = [with_weight(draw, {"code": code, "value": draw(value)}, hub) for code in codes]
                category = {
                    "label1": name,
                    "label2": f"{name} (fr)",
                    "value": draw(value),
                    "controls": controls,
                }
                categories.append(with_weight(draw, category, hub))
            sides[side] = categories
        ref = {"referential": referential, "label1": f"ref {referential[-1]}", **sides}
        out.append(with_weight(draw, ref, hub))
    return out


DATA = {
    "threat": threat_data,
    "vulnerability": threat_data,
    "risk": risk_data,
    "cartography": cartography_data,
    "compliance": compliance_data,
}


@st.composite
def histories(draw: Any, types: tuple[str, ...]) -> list[tuple]:
    """A list of operations: ("upload", client, [records]) or ("delete", client, anr).

    Random uploads and deletes (some of analyses with nothing stored: 404), then always a
    re-upload of a stored record with new data (it must replace the old one) and the deletion of
    a stored analysis (its rollups must go), followed by more uploads so something remains.
    """
    ops: list[tuple] = []
    stored: set[tuple[str, str, str, str]] = set()  # (uploader, anr, type, date)

    def upload(uploader: str, keys: list[tuple[str, str, str]]) -> None:
        hub = UPLOADERS[uploader]
        batch = []
        for anr, stats_type, day in keys:
            record = {"anr": anr, "type": stats_type, "date": day, "data": draw(DATA[stats_type](hub))}
            if hub:
                record["n"] = draw(st.integers(1, 5))
            batch.append(record)
            stored.add((uploader, anr, stats_type, day))
        ops.append(("upload", uploader, batch))

    def delete(uploader: str, anr: str) -> None:
        ops.append(("delete", uploader, anr))
        stored.difference_update({key for key in stored if key[:2] == (uploader, anr)})

    def random_ops(count: int) -> None:
        for _ in range(count):
            uploader = draw(st.sampled_from(sorted(UPLOADERS)))
            if draw(st.integers(0, 4)) == 0:
                delete(uploader, draw(st.sampled_from(ANRS)))
                continue
            key = st.tuples(
                st.sampled_from(ANRS), st.sampled_from(types), st.sampled_from([d.isoformat() for d in DATES])
            )
            # a key may appear twice in a batch: the last one wins
            upload(uploader, draw(st.lists(key, min_size=1, max_size=4)))

    random_ops(draw(st.integers(1, 6)))
    if stored:
        uploader, anr, stats_type, day = draw(st.sampled_from(sorted(stored)))
        upload(uploader, [(anr, stats_type, day)])  # a re-upload: replaces the record
        uploader, anr, _, _ = draw(st.sampled_from(sorted(stored)))
        delete(uploader, anr)
    random_ops(draw(st.integers(1, 3)))
    return ops


@st.composite
def requests(draw: Any) -> list[dict[str, Any]]:
    """One random window, period and set of analyses, asked in every scope: the whole hub (all
    clients, then local ones only: the per-day sums), a user's own analyses and an admin's pick
    across clients (the per-analysis rollups)."""
    first, last = sorted(draw(st.lists(st.sampled_from(DATES), min_size=2, max_size=2)))
    anrs = draw(st.lists(st.sampled_from(ANRS), unique=True, min_size=1, max_size=2))
    common = {"date_from": first, "date_to": last, "aggregation_period": draw(st.sampled_from(PERIODS))}
    scopes = [
        {"caller": "fo-a", "anrs": [], "local_stats_only": False},
        {"caller": "admin", "anrs": [], "local_stats_only": True},
        {"caller": "fo-a", "anrs": anrs, "local_stats_only": draw(st.booleans())},
        {"caller": "admin", "anrs": anrs, "local_stats_only": draw(st.booleans())},
    ]
    return [{**common, **scope} for scope in scopes]


# --- replaying a history against the hub and the oracle ------------------------------------------


class Hub:
    """The hub under test (through HTTP) and the records it should hold."""

    def __init__(self, http: Any):
        db.session.remove()
        for table in reversed(db.metadata.sorted_tables):
            db.session.execute(table.delete())
        db.session.commit()
        self.http = http
        self.tokens = {name: new_client(name, local=not hub) for name, hub in UPLOADERS.items()}
        self.tokens["admin"] = new_client("admin", admin=True)
        self.stored: dict[tuple, oracle.Record] = {}
        self.uploads: list[oracle.Record] = []

    def replay(self, ops: list[tuple]) -> None:
        for op in ops:
            if op[0] == "upload":
                _, uploader, batch = op
                refused: set[int] = set()
                if UPLOADERS[uploader]:
                    # a hub's aggregate is keyed by (hub, type, day), and released once: a different
                    # one for a key the hub already holds is refused
                    batch = [
                        {**raw, "anr": aggregate_anr(raw["type"], date.fromisoformat(raw["date"]))}
                        for raw in batch
                    ]
                    for index, raw in enumerate(batch):
                        held = self.stored.get(
                            (uploader, raw["anr"], raw["type"], date.fromisoformat(raw["date"]))
                        )
                        # "different" as the hub tells it: once validated and normalised ("2.50" is 2.5)
                        kind = REGISTRY[raw["type"]]
                        if held is not None and (kind.load(held.data), held.n) != (
                            kind.load(raw["data"]),
                            raw.get("n", 1),
                        ):
                            refused.add(index)
                response = self.http.post("/api/v1/stats/", json=batch, headers=auth(self.tokens[uploader]))
                status = 422 if len(refused) == len(batch) else 207 if refused else 201
                assert response.status_code == status, response.get_json()
                for index, raw in enumerate(batch):
                    if index in refused:
                        continue
                    record = oracle.Record(
                        client=uploader,
                        local=not UPLOADERS[uploader],
                        anr=raw["anr"],
                        type=raw["type"],
                        date=date.fromisoformat(raw["date"]),
                        data=raw["data"],
                        n=raw.get("n", 1),
                    )
                    self.stored[(uploader, record.anr, record.type, record.date)] = record
                    self.uploads.append(record)
            else:
                _, uploader, anr = op
                doomed = [key for key in self.stored if key[:2] == (uploader, anr)]
                response = self.http.delete(f"/api/v1/stats/{anr}", headers=auth(self.tokens[uploader]))
                assert response.status_code == (204 if doomed else 404)
                for key in doomed:
                    del self.stored[key]

    def replay_and_release(self, ops: list[tuple]) -> None:
        """The history, then the nightly release: whole-hub answers read released days only."""
        self.replay(ops)
        release()

    @staticmethod
    def assert_answer(request: dict, expected: Any, actual: Any) -> None:
        """A whole-hub answer to a Front Office shows its weights coarsened, as a public face."""
        if not request["anrs"]:
            expected = coarsen_weights(expected, NO_SUPPRESSION["FEDERATION_MIN_CLIENTS"])
        assert_close(expected, actual)

    def processed(self, request: dict, processor: str, params: dict | None = None) -> Any:
        body = {k: v for k, v in request.items() if k != "caller"}
        body.update(
            processor=processor,
            processor_params=params or {},
            date_from=request["date_from"].isoformat(),
            date_to=request["date_to"].isoformat(),
        )
        response = self.http.get(
            "/api/v1/stats/processed/", json=body, headers=auth(self.tokens[request["caller"]])
        )
        assert response.status_code == 200, response.get_json()
        return response.get_json()["data"]

    def labels(self, request: dict) -> dict[str, dict[str, dict[str, str]]]:
        """A user's own analyses show its own labels; every other answer the majority's."""
        mine = request["anrs"] and request["caller"] != "admin"
        return oracle.latest_labels(self.uploads, request["caller"] if mine else None)

    def expected_records(self, stats_type: str, request: dict) -> list[oracle.Record]:
        """SPEC §3: a user's anrs select among its own analyses; without anrs, the whole hub."""
        mine = request["anrs"] and request["caller"] != "admin"
        selection = oracle.Selection(
            date_from=request["date_from"],
            date_to=request["date_to"],
            anrs=tuple(request["anrs"]),
            client=request["caller"] if mine else None,
            local_only=request["local_stats_only"],
        )
        return oracle.select(list(self.stored.values()), stats_type, selection)


# --- the properties ------------------------------------------------------------------------------


@SETTINGS
@given(ops=histories(("threat", "vulnerability")), scopes=requests())
def test_threats_and_vulnerabilities_match_the_oracle(client, ops, scopes):
    hub = Hub(client)
    hub.replay_and_release(ops)
    for request in scopes:
        labels = hub.labels(request)
        for stats_type in ("threat", "vulnerability"):
            expected = oracle.objects_on_date(
                hub.expected_records(stats_type, request), request["aggregation_period"], labels[stats_type]
            )
            hub.assert_answer(request, expected, hub.processed(request, f"{stats_type}_average_on_date"))


branches = st.tuples(
    st.lists(st.sampled_from(oracle.KINDS), unique=True),
    st.lists(st.sampled_from(oracle.STATES), unique=True),
)


def branch_params(kinds: list[str], states: list[str]) -> tuple[dict, tuple, tuple]:
    """Request parameters (comma-separated, absent when empty) and the branches they select."""
    params = {}
    if kinds:
        params["risks_type"] = ",".join(kinds)
    if states:
        params["risks_state"] = ",".join(states)
    chosen_kinds = tuple(k for k in oracle.KINDS if k in kinds) or oracle.KINDS
    chosen_states = tuple(s for s in oracle.STATES if s in states) or oracle.STATES
    return params, chosen_kinds, chosen_states


@SETTINGS
@given(ops=histories(("risk",)), query=st.tuples(requests(), branches))
def test_risk_processors_match_the_oracle(client, ops, query):
    hub = Hub(client)
    hub.replay_and_release(ops)
    scopes, (kinds, states) = query
    params, kinds, states = branch_params(kinds, states)
    for request in scopes:
        records = hub.expected_records("risk", request)
        hub.assert_answer(
            request,
            oracle.risk_averages(records, states, kinds),
            hub.processed(request, "risk_averages", params),
        )
        hub.assert_answer(
            request,
            oracle.risk_averages_on_date(records, request["aggregation_period"], states, kinds),
            hub.processed(request, "risk_averages_on_date", params),
        )


@SETTINGS
@given(ops=histories(("cartography",)), query=st.tuples(requests(), branches))
def test_cartography_heatmap_matches_the_oracle(client, ops, query):
    hub = Hub(client)
    hub.replay_and_release(ops)
    scopes, (kinds, states) = query
    params, kinds, states = branch_params(kinds, states)
    for request in scopes:
        records = hub.expected_records("cartography", request)
        expected = oracle.cartography_heatmap(records, states, kinds)
        hub.assert_answer(request, expected, hub.processed(request, "cartography_heatmap", params))
        expected = oracle.cartography_heatmap_on_date(records, request["aggregation_period"], states, kinds)
        hub.assert_answer(request, expected, hub.processed(request, "cartography_heatmap_on_date", params))


@SETTINGS
@given(
    ops=histories(("compliance",)),
    query=st.tuples(requests(), st.booleans()),
)
def test_compliance_processors_match_the_oracle(client, ops, query):
    hub = Hub(client)
    hub.replay_and_release(ops)
    scopes, controls = query
    for request in scopes:
        labels = hub.labels(request)["compliance"]
        records = hub.expected_records("compliance", request)
        params = {"controls": controls}
        hub.assert_answer(
            request,
            oracle.compliance_averages(records, labels, controls=controls),
            hub.processed(request, "compliance_averages", params),
        )
        hub.assert_answer(
            request,
            oracle.compliance_averages(
                records, labels, controls=controls, period=request["aggregation_period"]
            ),
            hub.processed(request, "compliance_averages_on_date", params),
        )


# --- the registry over HTTP ----------------------------------------------------------------------

#: the processors the issue asks for, at least, and the stats type each reads
REQUIRED = {
    "threat_average_on_date": "threat",
    "vulnerability_average_on_date": "vulnerability",
    "risk_averages": "risk",
    "risk_averages_on_date": "risk",
    "cartography_heatmap": "cartography",
    "compliance_averages": "compliance",
    "compliance_averages_on_date": "compliance",
}


def test_processed_list_describes_every_processor(client):
    """Public, no token: each processor with a description, its stats type and its parameters."""
    response = client.get("/api/v1/stats/processed/list")
    assert response.status_code == 200
    listed = {entry["name"]: entry for entry in response.get_json()}
    assert {name: entry["type"] for name, entry in listed.items() if name in REQUIRED} == REQUIRED
    for entry in listed.values():
        assert len(entry["description"]) > 40, entry
        assert entry["type"] in DATA
    assert set(listed["risk_averages_on_date"]["params"]) == {"risks_type", "risks_state"}
    assert listed["threat_average_on_date"]["params"] == {}


@pytest.mark.parametrize(
    ("processor", "params", "field"),
    [
        ("risk_averages", {"risks_kind": "informational"}, "processor_params.risks_kind"),
        ("risk_averages_on_date", {"risks_state": "future"}, "processor_params.risks_state"),
        ("threat_average_on_date", {"anything": 1}, "processor_params.anything"),
        ("compliance_averages", {"controls": "maybe"}, "processor_params.controls"),
        ("no_such_processor", {}, "processor"),
    ],
)
def test_bad_processor_or_params_is_400(client, processor, params, field):
    token = new_client("fo")
    body = {"processor": processor, "processor_params": params}
    response = client.get("/api/v1/stats/processed/", json=body, headers=auth(token))
    assert response.status_code == 400, response.get_json()
    assert field in response.get_json()["errors"]


def test_processor_of_another_type_is_400(client):
    token = new_client("fo")
    body = {"type": "threat", "processor": "risk_averages"}
    response = client.get("/api/v1/stats/processed/", json=body, headers=auth(token))
    assert response.status_code == 400
    assert "processor" in response.get_json()["errors"]
