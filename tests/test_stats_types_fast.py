"""The compiled fast path (``statsservice.domain.stats_types.fast``) against marshmallow, the
reference: whatever the fast path accepts, marshmallow accepts with the identical normalised data
(same keys in the same order, same types, same values), and ``StatsType.load`` answers every
input exactly as marshmallow alone does, errors included.

Realistic records come from the demo generator (with PHP's encodings); invalid and borderline ones
are hypothesis mutations of them (derandomized: the same examples on every run).
"""

from __future__ import annotations

import copy
import json
import os
import uuid
from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from marshmallow import ValidationError

from statsservice import clock
from statsservice.demo.payloads import Generator
from statsservice.domain.registry import REGISTRY, TYPE_NAMES
from statsservice.domain.stats_types import StatsType

EXAMPLES = int(os.environ.get("FAST_PATH_EXAMPLES", "300"))
DIFF = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

GEN = Generator(seed=5, anrs=6, php_quirks=True)
DAY = date(2026, 1, 5)
SAMPLES: dict[str, list[Any]] = {name: [] for name in TYPE_NAMES}
for _anr in range(6):
    for _offset in range(3):
        for _record in GEN.day_batch(_anr, DAY + timedelta(days=_offset)):
            SAMPLES[_record["type"]].append(_record["data"])

UUID = "0c2d7f3e-6e0e-4b38-9f57-1e2b3c4d5e6f"
#: values that sit on the edges of what the fields accept (and a few far outside)
TRICKY: list[Any] = [
    None,
    True,
    False,
    0,
    -0.0,
    1,
    3.0,
    2.5,
    -1,
    -0.5,
    10**6,
    10**6 + 1,
    10**9,
    10**9 + 1,
    1e9 + 0.5,
    2**70,
    1e300,
    "",
    " ",
    "0",
    "00",
    "007",
    "1",
    "2.50",
    "2.",
    ".5",
    ".",
    "1.2.3",
    " 2.5",
    "2.5 ",
    "2.5\n",
    "1e3",
    "1E-2",
    "-1",
    "+1",
    "-0",
    "1_0",
    "NaN",
    "inf",
    "٣",
    "²",
    "0x10",
    "1000000",
    "1000000.0000001",
    "1000000001",
    "0." + "0" * 37 + "1",
    "0." + "0" * 38 + "1",
    "9" * 40,
    "Low risks",
    "Medium risks",
    "high risks",
    "x",
    "x" * 64,
    "x" * 65,
    "x" * 200,
    "x" * 201,
    "x" * 1024,
    "x" * 1025,
    "😀" * 1024,
    "😀" * 1025,
    UUID,
    UUID.upper(),
    UUID.replace("-", ""),
    "{" + UUID + "}",
    "urn:uuid:" + UUID,
    UUID + "\n",
    [],
    {},
    [None],
    [{}],
    [[]],
    [1, 2],
    ["1", None, 2.5],
    {"0": 1},
    {"01": 1},
    {" 1": 1},
    {"1\n": 1},
    {"-1": 1},
    {"1234567": 1},
    {"123456": 1},
    {"²": 1},
    {"0": {}},
    {"0": []},
    {"0": {"1": "2.5"}},
    {"level": "Low risks", "value": 1},
    {"code": "1.1", "value": "0.5"},
]
MAP_KEYS = ["0", "1", "01", " 1", "1\n", "-1", "x", "1234567", "n", "label1", "value", "extra"]


def canonical(value: Any) -> str:
    """Order- and type-sensitive text of loaded data (``1`` and ``1.0`` differ, so do key orders)."""
    return json.dumps(value, allow_nan=True)


def outcome(load: Any, data: Any) -> tuple[str, Any]:
    try:
        return "ok", canonical(load(data))
    except ValidationError as exc:
        return "error", exc.messages


def assert_agrees(stats_type: StatsType, data: Any) -> bool:
    """The fast path's answer (if any) is marshmallow's; ``load`` answers as marshmallow does."""
    fast = stats_type._fast.load(data)  # neither path changes its input
    reference = outcome(stats_type.load_marshmallow, data)
    if fast is not None:
        schema_only = outcome(stats_type._load_with_schema, data)
        assert schema_only == ("ok", canonical(fast)), (
            f"fast path accepted what marshmallow answers {schema_only}"
        )
    assert outcome(stats_type.load, data) == reference
    return fast is not None


def paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    """Every place inside a record: a mutation picks one."""
    found = [prefix]
    if isinstance(value, dict):
        for key, sub in value.items():
            found += paths(sub, (*prefix, key))
    elif isinstance(value, list):
        for index, sub in enumerate(value):
            found += paths(sub, (*prefix, index))
    return found


def parent_of(data: Any, path: tuple) -> Any:
    for step in path[:-1]:
        data = data[step]
    return data


@st.composite
def mutated(draw: st.DrawFn, type_name: str) -> Any:
    """A realistic record with one to three changes: a value replaced, a key removed or added,
    a list item repeated or dropped, a map turned into its dense-list form."""
    data = copy.deepcopy(draw(st.sampled_from(SAMPLES[type_name])))
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(paths(data)))
        kind = draw(st.sampled_from(["replace", "replace", "remove", "add", "repeat", "dense", "key"]))
        value = draw(
            st.one_of(
                st.sampled_from(TRICKY),
                st.floats(allow_nan=False, allow_infinity=False),
                st.integers(-5, 2 * 10**9),
                st.from_regex(r"\A[0-9 ._eE+-]{0,12}\Z"),
                st.text(max_size=8),
            )
        )
        if not path:
            if kind == "replace":
                data = value
            continue
        parent, last = parent_of(data, path), path[-1]
        target = parent[last]
        if kind == "replace":
            parent[last] = value
        elif kind == "remove":
            del parent[last]
        elif kind == "add" and isinstance(target, dict):
            target[draw(st.sampled_from(MAP_KEYS))] = value
        elif kind == "repeat" and isinstance(target, list) and target:
            target.append(copy.deepcopy(target[draw(st.integers(0, len(target) - 1))]))
        elif kind == "dense" and isinstance(target, dict) and all(k.isdigit() for k in target):
            keys = [int(k) for k in target]
            dense: list[Any] = [
                draw(st.sampled_from([None, {}, []])) for _ in range(max(keys, default=-1) + 1)
            ]
            for key, sub in target.items():
                dense[int(key)] = sub
            parent[last] = dense
        elif kind == "key" and isinstance(parent, dict):
            parent[draw(st.sampled_from(MAP_KEYS))] = parent.pop(last)
    return data


def test_every_type_has_a_fast_path() -> None:
    """A schema change the compiler cannot translate must be noticed, not silently slow."""
    for name, stats_type in REGISTRY.items():
        assert stats_type._fast is not None, name


@pytest.mark.parametrize("type_name", TYPE_NAMES)
def test_realistic_records_take_the_fast_path(type_name: str) -> None:
    stats_type = REGISTRY[type_name]
    for data in SAMPLES[type_name]:
        assert assert_agrees(stats_type, data), "a generator record fell back to marshmallow"


@pytest.mark.parametrize("type_name", TYPE_NAMES)
def test_mutations_agree_with_marshmallow(type_name: str) -> None:
    stats_type = REGISTRY[type_name]
    accepted = []

    @DIFF
    @given(mutated(type_name))
    def check(data: Any) -> None:
        accepted.append(assert_agrees(stats_type, data))

    check()
    assert any(accepted), "no mutation was decided by the fast path: the property tests nothing"


@pytest.mark.parametrize("type_name", TYPE_NAMES)
@DIFF
@given(
    data=st.recursive(
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats()
        | st.text(max_size=6)
        | st.sampled_from(TRICKY),
        lambda children: (
            st.lists(children, max_size=3) | st.dictionaries(st.sampled_from(MAP_KEYS), children, max_size=3)
        ),
        max_leaves=10,
    )
)
def test_arbitrary_json_agrees_with_marshmallow(type_name: str, data: Any) -> None:
    assert_agrees(REGISTRY[type_name], data)


def test_php_encodings_and_defaults() -> None:
    """The cases the generator rarely builds, decided by the fast path and equal to marshmallow."""
    cases = {
        "risk": [
            {"risks": []},
            {"risks": {"current": []}, "total": []},
            {"risks": {}, "total": {"current": {}}},
        ],
        "cartography": [
            {"risks": {"current": {"informational": [None, {"1": 2}, [], {}, ["3", None]]}}},
            {"risks": {"residual": {"operational": [[None]]}}, "scales": []},
        ],
        "threat": [
            [{"uuid": UUID, "count": 1, "maxRisk": "2", "averageRate": "0.5", "label1": None, "n": None}],
            [{"uuid": UUID, "count": 1, "maxRisk": 2, "averageRate": 3, "n": 4, "unknown": "ignored"}],
        ],
        "compliance": [
            [
                {
                    "referential": UUID,
                    "current": [{"label1": "a", "value": 1, "controls": [{"code": "1", "value": "1."}]}],
                }
            ],
            [{"referential": str(uuid.UUID(int=1)), "target": [{"label1": "b", "value": ".5", "n": None}]}],
        ],
    }
    for type_name, datas in cases.items():
        for data in datas:
            assert assert_agrees(REGISTRY[type_name], data), (type_name, data)


# --- the upload envelope: StatsRecordSchema.load_record against StatsRecordSchema.load ----------

ENVELOPE_KEYS = ["anr", "type", "date", "data", "uuid", "n", "extra"]
ENVELOPE_VALUES: list[Any] = [
    *TRICKY,
    "risk",
    "compliance",
    "Risk",
    "2026-01-05",
    "1999-12-31",
    "2000-01-01",
    "2026-02-30",
    "2026-1-5",
    "20260105",
    "٢٠٢٦-01-05",
    (clock.today() + timedelta(days=2)).isoformat(),
    "0C2D7F3E-6E0E-4B38-9F57-1E2B3C4D5E6F",
    3,
    100_000,
    10**9,
    10**9 + 1,
]


def record_outcome(load: Any, raw: Any) -> tuple[str, Any]:
    try:
        return "ok", repr(load(raw))
    except ValidationError as exc:
        return "error", exc.messages


@pytest.mark.parametrize("hub_client", [False, True])
def test_envelope_agrees_with_marshmallow(hub_client: bool) -> None:
    from statsservice.api.v1.schemas import StatsRecordSchema

    schema = StatsRecordSchema(hub_client=hub_client)
    batch = [r for i in range(3) for r in GEN.day_batch(i, DAY)]
    for raw in batch:  # realistic records are stored alike
        assert record_outcome(schema.load_record, raw) == record_outcome(schema.load, raw)

    @DIFF
    @given(
        st.sampled_from(batch),
        st.lists(
            st.tuples(
                st.sampled_from(ENVELOPE_KEYS),
                st.one_of(
                    st.just("delete"), st.sampled_from(ENVELOPE_VALUES), st.sampled_from(SAMPLES["threat"])
                ),
            ),
            max_size=3,
        ),
    )
    def check(record: dict, changes: list[tuple[str, Any]]) -> None:
        raw = dict(record)
        for key, value in changes:
            if value == "delete":
                raw.pop(key, None)
            else:
                raw[key] = value
        assert record_outcome(schema.load_record, raw) == record_outcome(schema.load, raw)

    check()
