"""Compliance: per referential and category, current vs target maturity, per control too."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from marshmallow import ValidationError, fields, validates_schema

from statsservice.domain.stats_types.base import LabelEntry, RollupRow, StatsType
from statsservice.domain.stats_types.fields import (
    ItemSchema,
    Labelled,
    Number,
    UUIDString,
    Weight,
    labels_of,
)

VALUE = Number(required=True, maximum=10**6)


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


class ComplianceType(StatsType):
    """Rollup rows: per category (k1 referential, k2 category label1, k3 "") and per control
    (k3 = control code); m1 = current value, m2 = target value. Weight: the referential's ``n``."""

    name = "compliance"
    schema = ReferentialSchema
    many = True

    def load(self, data: Any) -> Any:
        loaded = super().load(data)
        refs = [ref["referential"] for ref in loaded]
        if len(refs) != len(set(refs)):
            raise ValidationError({"_schema": ["each referential may appear once"]})
        return loaded

    def explode(self, data: list[dict], n: float) -> Iterable[RollupRow]:
        for ref in data:
            weight = ref.get("n") or n
            targets = {cat["label1"]: cat for cat in ref["target"]}
            categories = {cat["label1"]: cat for cat in ref["current"]}
            for name in {**categories, **targets}:
                current, target = categories.get(name), targets.get(name)
                yield RollupRow(
                    k1=ref["referential"],
                    k2=name,
                    m1=current["value"] if current else 0.0,
                    m2=target["value"] if target else 0.0,
                    n=weight,
                )
                cur_controls = {c["code"]: c["value"] for c in (current or {}).get("controls", [])}
                tgt_controls = {c["code"]: c["value"] for c in (target or {}).get("controls", [])}
                for code in {**cur_controls, **tgt_controls}:
                    yield RollupRow(
                        k1=ref["referential"],
                        k2=name,
                        k3=code,
                        m1=cur_controls.get(code, 0.0),
                        m2=tgt_controls.get(code, 0.0),
                        n=weight,
                    )

    def labels(self, data: list[dict]) -> Iterable[LabelEntry]:
        for ref in data:
            yield LabelEntry(ref["referential"], labels_of(ref))
            for cat in ref["current"] + ref["target"]:
                yield LabelEntry(category_key(ref["referential"], cat["label1"]), labels_of(cat))
