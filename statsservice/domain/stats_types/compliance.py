"""Compliance: per referential and category, current vs target maturity, per control too."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from marshmallow import ValidationError, fields, validates_schema

from statsservice.domain.processors import compliance
from statsservice.domain.stats_types.base import KeySums, LabelEntry, RollupRow, StatsType
from statsservice.domain.stats_types.fields import (
    LABEL_FIELDS,
    ItemSchema,
    Labelled,
    Number,
    UUIDString,
    Weight,
    labels_of,
)
from statsservice.domain.stats_types.sql import JsonSql

VALUE = Number(required=True, maximum=10**6)
CATEGORY_NAME_MAX = 200  # a category's label1 keys it: "<referential uuid>/<label1>" fits 255


class ControlSchema(ItemSchema):
    code = fields.String(required=True, validate=fields.validate.Length(min=1, max=64))
    measure = UUIDString(load_default=None, allow_none=True)
    value = Number(required=True, maximum=10**6)
    n = Weight()


class CategorySchema(Labelled):
    value = Number(required=True, maximum=10**6)
    controls = fields.List(fields.Nested(ControlSchema), load_default=list)
    n = Weight()

    @validates_schema
    def _named(self, data: dict, **kwargs: Any) -> None:
        if not data.get("label1"):
            raise ValidationError({"label1": ["a category needs a label1"]})
        if len(data["label1"]) > CATEGORY_NAME_MAX:  # it keys rollups and labels (255 characters)
            raise ValidationError(
                {"label1": [f"a category's label1 is at most {CATEGORY_NAME_MAX} characters"]}
            )
        codes = [c["code"] for c in data.get("controls", [])]
        if len(codes) != len(set(codes)):
            raise ValidationError({"controls": ["each control code may appear once"]})


class ReferentialSchema(Labelled):
    referential = UUIDString(required=True)
    current = fields.List(fields.Nested(CategorySchema), load_default=list)
    target = fields.List(fields.Nested(CategorySchema), load_default=list)
    n = Weight()

    @validates_schema
    def _categories_unique(self, data: dict, **kwargs: Any) -> None:
        for side in ("current", "target"):
            names = [c["label1"] for c in data.get(side, [])]
            if len(names) != len(set(names)):
                raise ValidationError({side: ["each category (label1) may appear once"]})


def category_key(referential: str, category_label: str) -> str:
    return f"{referential}/{category_label}"


def _cells(ref: dict, n: float, controls: bool = True) -> Iterator[tuple[str, str, float, float, float]]:
    """(category, control code or "", current, target, weight) over the union of both sides
    (categories only unless ``controls``).

    A side that lacks a category or control counts 0; the weight is the element's own ``n``
    (aggregates), else its category's, else the referential's, else the record's.
    """
    ref_weight = ref.get("n") or n
    current = {cat["label1"]: cat for cat in ref["current"]}
    target = {cat["label1"]: cat for cat in ref["target"]}
    for name in {**current, **target}:
        cur, tgt = current.get(name), target.get(name)
        weight = (cur or tgt or {}).get("n") or ref_weight
        yield name, "", cur["value"] if cur else 0.0, tgt["value"] if tgt else 0.0, weight
        if not controls:
            continue
        cur_controls = {c["code"]: c for c in (cur or {}).get("controls", [])}
        tgt_controls = {c["code"]: c for c in (tgt or {}).get("controls", [])}
        for code in {**cur_controls, **tgt_controls}:
            a, b = cur_controls.get(code), tgt_controls.get(code)
            yield (
                name,
                code,
                a["value"] if a else 0.0,
                b["value"] if b else 0.0,
                (a or b or {}).get("n") or weight,
            )


class ComplianceType(StatsType):
    """Rollup rows: per category (k1 referential, k2 category label1, k3 "") and per control
    (k3 = control code); m1 = current value, m2 = target value. Weight: the referential's ``n``."""

    name = "compliance"
    labelled = True
    schema = ReferentialSchema
    many = True
    processors = (compliance.averages(category_key), compliance.averages_on_date(category_key))
    #: categories only: controls are most of a record's keys and only ``controls=true`` asks them
    record_sums_match = {"k3": ("",)}

    def check(self, loaded: Any) -> Any:
        refs = [ref["referential"] for ref in loaded]
        if len(refs) != len(set(refs)):
            raise ValidationError({"_schema": ["each referential may appear once"]})
        return loaded

    def explode(
        self, data: list[dict], n: float, match: Mapping[str, tuple[str, ...]] | None = None
    ) -> Iterable[RollupRow]:
        controls = not match or match.get("k3") != ("",)  # categories only: controls skipped
        for ref in data:
            for name, code, current, target, weight in _cells(ref, n, controls):
                yield RollupRow(k1=ref["referential"], k2=name, k3=code, m1=current, m2=target, n=weight)

    def explode_sql(self, j: JsonSql, match: Mapping[str, tuple[str, ...]] | None = None) -> str:
        """``_cells`` in SQL: both sides' categories (then their controls) stacked with a side flag
        and grouped by name; the weight is the current side's if it has the element, as in Python.
        Each element's scalars are taken out first (``sides`` is materialized), so the grouping
        sorts narrow rows, not the categories' JSON."""
        controls = not match or match.get("k3") != ("",)  # categories only: controls skipped
        cat = "c.value"
        sides = (
            f"SELECT rec.id AS id, rec.date AS date, {j.text('r.value', 'referential')} AS k1,"
            f" {j.weight('r.value', 'rec.n')} AS rw, sd.side AS side, {j.text(cat, 'label1')} AS k2,"
            f" NULLIF({j.number(cat, 'n')}, 0) AS own, {j.number(cat, 'value')} AS v"
            + (f", {j.member(cat, 'controls')} AS controls" if controls else "")
            + f" FROM rec, {j.elements('rec.data')} AS r,"
            f" (SELECT 0 AS side, 'current' AS name UNION ALL SELECT 1, 'target') AS sd,"
            f" {j.elements_at('r.value', 'sd.name')} AS c"
        )

        def merged(prefix: str, fallback: str) -> str:
            """Weight and both sides' values of a group of one element's rows (one per side)."""
            return (
                f"COALESCE(CASE WHEN MIN({prefix}side) = 0"
                f" THEN MAX(CASE WHEN {prefix}side = 0 THEN {prefix}own END)"
                f" ELSE MAX({prefix}own) END, MAX({fallback})) AS w,"
                f" SUM(CASE WHEN {prefix}side = 0 THEN {prefix}v ELSE 0 END) AS m1,"
                f" SUM(CASE WHEN {prefix}side = 1 THEN {prefix}v ELSE 0 END) AS m2"
            )

        query = (
            f"WITH sides AS {j.materialized}({sides}),"
            f" categories AS (SELECT id, MIN(date) AS date, k1, k2, {merged('', 'rw')}"
            f" FROM sides GROUP BY id, k1, k2)"
        )
        categories = "SELECT date, k1, k2, '', '', w, m1, m2, 0 FROM categories"
        if not controls:
            return f"{query} {categories}"
        control = "t.value"
        return (
            f"{query}, controls AS (SELECT s.id AS id, s.k1 AS k1, s.k2 AS k2, s.side AS side,"
            f" {j.text(control, 'code')} AS k3, NULLIF({j.number(control, 'n')}, 0) AS own,"
            f" {j.number(control, 'value')} AS v"
            f" FROM sides AS s, {j.elements('s.controls')} AS t)"
            f" {categories} UNION ALL SELECT g.date, g.k1, g.k2, x.k3, '', {merged('x.', 'g.w')}, 0"
            f" FROM controls AS x JOIN categories AS g ON g.id = x.id AND g.k1 = x.k1 AND g.k2 = x.k2"
            f" GROUP BY g.id, g.date, g.k1, g.k2, x.k3"
        )

    def assemble(
        self, cells: Sequence[KeySums], weight: float, labels: dict[str, dict[str, str]]
    ) -> list[dict]:
        """Per referential, each released category (its label1 is its identity) with its released
        controls; a control whose category is suppressed is not sent either."""
        categories = {c.key[:2]: c for c in cells if not c.key[2]}
        controls: dict[tuple[str, str], list[KeySums]] = {}
        for cell in cells:
            if cell.key[2] and cell.key[:2] in categories:
                controls.setdefault(cell.key[:2], []).append(cell)
        out: dict[str, dict] = {}
        for (ref, name), cat in sorted(categories.items()):
            if ref not in out:
                ref_labels = labels.get(ref, {})
                out[ref] = {"referential": ref, **{f: ref_labels.get(f, "") for f in LABEL_FIELDS}}
                out[ref].update({"current": [], "target": []})
            cat_labels = labels.get(category_key(ref, name), {})
            for index, side in enumerate(("current", "target")):
                out[ref][side].append(
                    {
                        **{f: cat_labels.get(f, "") for f in LABEL_FIELDS},
                        "label1": name,
                        "value": cat.mean(index),
                        "n": cat.n,
                        "controls": [
                            {"code": c.key[2], "value": c.mean(index), "n": c.n}
                            for c in sorted(controls.get((ref, name), []), key=lambda c: c.key)
                        ],
                    }
                )
        return list(out.values())

    def labels(self, data: list[dict]) -> Iterable[LabelEntry]:
        for ref in data:
            yield LabelEntry(ref["referential"], labels_of(ref))
            for cat in ref["current"] + ref["target"]:
                yield LabelEntry(category_key(ref["referential"], cat["label1"]), labels_of(cat))
