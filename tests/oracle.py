"""The processors, computed the slow and obvious way: in plain Python, straight from the records as
uploaded (raw JSON, PHP quirks included), with no rollups, no SQL and no code of the hub.

This is the reference the SQL implementation must agree with (within 1e-9). It encodes the
semantics of SPEC §5 and §7 as the processor descriptions state them:

- threat / vulnerability: per object, the mean over the records that list it, weighted by the
  element's ``n`` (else the record's);
- risk and cartography: sum of ``n × value`` divided by the total weight of the records in the
  selection (or period): a level or cell a record does not report counts as 0;
- compliance: per referential, category and control, the mean of current and target over the
  records that report them, weighted by the most specific ``n`` (control, category, referential,
  record); a side that lacks the category or control counts 0.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

STATES = ("current", "residual")
KINDS = ("informational", "operational")
LEVELS = ("Low risks", "Medium risks", "High risks")
COLUMNS = {"informational": "likelihood", "operational": "probability"}
LABELS = ("label1", "label2", "label3", "label4")


@dataclass(frozen=True)
class Record:
    """A stored record as the hub should see it: owner, analysis, type, day, raw data, weight."""

    client: str
    local: bool
    anr: str
    type: str
    date: date
    data: Any
    n: float = 1


@dataclass(frozen=True)
class Selection:
    """What a processed request selects. ``client`` set: only that client's records."""

    date_from: date
    date_to: date
    anrs: tuple[str, ...] = ()
    client: str | None = None
    local_only: bool = False


def select(records: list[Record], stats_type: str, sel: Selection) -> list[Record]:
    return [
        r
        for r in records
        if r.type == stats_type
        and sel.date_from <= r.date <= sel.date_to
        and (not sel.anrs or r.anr in sel.anrs)
        and (sel.client is None or r.client == sel.client)
        and (r.local or not sel.local_only)
    ]


def period_start(day: date, period: str | None) -> date | None:
    if period is None:
        return None
    if period == "day":
        return day
    if period == "week":
        return day - timedelta(days=day.weekday())
    if period == "month":
        return day.replace(day=1)
    if period == "quarter":
        return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    return date(day.year, 1, 1)


def num(value: Any) -> float:
    """A JSON number or a decimal string."""
    return float(value)


def as_map(value: Any) -> dict[str, Any]:
    """PHP: ``[]`` is an empty map, a list is a dense integer-keyed map (empty entries skipped)."""
    if isinstance(value, list):
        return {str(i): v for i, v in enumerate(value) if v not in ({}, [], None)}
    return value or {}


def weight_of(item: dict, fallback: float) -> float:
    """An element's own weight ``n`` when it has a non-zero one, else ``fallback``."""
    own = num(item["n"]) if item.get("n") is not None else 0.0
    return own or fallback


def labels_of(item: dict) -> dict[str, str]:
    return {name: item.get(name) or "" for name in LABELS}


def natural(text: str) -> tuple:
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text))


# --- threats and vulnerabilities -------------------------------------------------------------


def objects_on_date(records: list[Record], period: str, labels: dict[str, dict[str, str]]) -> list[dict]:
    fields = ("count", "maxRisk", "averageRate")
    acc: dict[str, dict[date, list[float]]] = defaultdict(lambda: defaultdict(lambda: [0.0, 0.0, 0.0, 0.0]))
    for record in records:
        bucket = period_start(record.date, period)
        for item in record.data:
            w = weight_of(item, record.n)
            cell = acc[item["uuid"].lower()][bucket]
            cell[0] += w
            for i, name in enumerate(fields):
                cell[i + 1] += w * num(item[name])
    out = []
    for uuid in sorted(acc):
        buckets = acc[uuid]
        total = [sum(c[i] for c in buckets.values()) for i in range(4)]
        out.append(
            {
                "object": uuid,
                "labels": labels.get(uuid, dict.fromkeys(LABELS, "")),
                "values": [
                    {
                        "date": b.isoformat(),
                        **{f: buckets[b][i + 1] / buckets[b][0] for i, f in enumerate(fields)},
                        "n": buckets[b][0],
                    }
                    for b in sorted(buckets)
                ],
                "averages": {f: total[i + 1] / total[0] for i, f in enumerate(fields)},
            }
        )
    return out


# --- risks and cartography -------------------------------------------------------------------


def _risk_sums(records: list[Record], period: str | None):
    weights: dict[date | None, float] = defaultdict(float)
    sums: dict[tuple, float] = defaultdict(float)
    for record in records:
        bucket = period_start(record.date, period)
        weights[bucket] += record.n
        for state, kinds in as_map(record.data["risks"]).items():
            for kind, levels in as_map(kinds).items():
                for entry in levels:
                    sums[(bucket, state, kind, entry["level"])] += record.n * num(entry["value"])
    return weights, sums


def risk_averages(records: list[Record], states=STATES, kinds=KINDS) -> dict:
    weights, sums = _risk_sums(records, None)
    total = weights.get(None, 0.0)
    return {
        s: {
            k: {lv: (sums.get((None, s, k, lv), 0.0) / total if total else 0.0) for lv in LEVELS}
            for k in kinds
        }
        for s in states
    }


def risk_averages_on_date(records: list[Record], period: str, states=STATES, kinds=KINDS) -> dict:
    weights, sums = _risk_sums(records, period)
    buckets = sorted(weights)
    return {
        s: {
            k: {
                lv: [
                    {
                        "date": b.isoformat(),
                        "value": sums.get((b, s, k, lv), 0.0) / weights[b],
                        "n": weights[b],
                    }
                    for b in buckets
                ]
                for lv in LEVELS
            }
            for k in kinds
        }
        for s in states
    }


def cartography_heatmap(records: list[Record], states=STATES, kinds=KINDS) -> dict:
    total = sum(r.n for r in records)
    sums: dict[tuple[str, str, int, int], float] = defaultdict(float)
    for record in records:
        for state, kind_map in as_map(record.data["risks"]).items():
            for kind, rows in as_map(kind_map).items():
                for impact, cells in as_map(rows).items():
                    for column, count in as_map(cells).items():
                        sums[(state, kind, int(impact), int(column))] += record.n * num(count)
    sums = {key: value for key, value in sums.items() if key[0] in states and key[1] in kinds}
    axes: dict[str, set[int]] = {"impact": set(), **{COLUMNS[k]: set() for k in kinds}}
    for _state, kind, impact, column in sums:
        axes["impact"].add(impact)
        axes[COLUMNS[kind]].add(column)
    out: dict[str, Any] = {"axes": {name: sorted(values) for name, values in axes.items()}}
    for state in states:
        out[state] = {
            kind: [
                {"impact": i, COLUMNS[kind]: c, "value": v / total}
                for (s, k, i, c), v in sorted(sums.items())
                if s == state and k == kind
            ]
            for kind in kinds
        }
    return out


def cartography_heatmap_on_date(records: list[Record], period: str, states=STATES, kinds=KINDS) -> dict:
    buckets: dict[date, list[Record]] = defaultdict(list)
    for record in records:
        buckets[period_start(record.date, period)].append(record)
    values = []
    for b in sorted(buckets):
        one = cartography_heatmap(buckets[b], states, kinds)
        del one["axes"]
        values.append({"date": b.isoformat(), "n": sum(r.n for r in buckets[b]), **one})
    return {"axes": cartography_heatmap(records, states, kinds)["axes"], "values": values}


# --- compliance ------------------------------------------------------------------------------


def _compliance_cells(records: list[Record], period: str | None):
    """(referential, category, control or "") -> bucket -> [weight, weight × current, weight × target]."""
    acc: dict[tuple[str, str, str], dict] = defaultdict(lambda: defaultdict(lambda: [0.0, 0.0, 0.0]))
    for record in records:
        bucket = period_start(record.date, period)
        for ref in record.data:
            ref_w = weight_of(ref, record.n)
            current = {c["label1"]: c for c in ref.get("current", [])}
            target = {c["label1"]: c for c in ref.get("target", [])}
            for name in {**current, **target}:
                cur, tgt = current.get(name), target.get(name)
                w = weight_of(cur or tgt, ref_w)
                _add(acc[(ref["referential"].lower(), name, "")][bucket], w, cur, tgt)
                cur_controls = {c["code"]: c for c in (cur or {}).get("controls", [])}
                tgt_controls = {c["code"]: c for c in (tgt or {}).get("controls", [])}
                for code in {**cur_controls, **tgt_controls}:
                    a, b = cur_controls.get(code), tgt_controls.get(code)
                    _add(acc[(ref["referential"].lower(), name, code)][bucket], weight_of(a or b, w), a, b)
    return acc


def _add(cell: list[float], w: float, current: dict | None, target: dict | None) -> None:
    cell[0] += w
    cell[1] += w * (num(current["value"]) if current else 0.0)
    cell[2] += w * (num(target["value"]) if target else 0.0)


def compliance_averages(
    records: list[Record], labels: dict[str, dict[str, str]], *, controls: bool, period: str | None = None
) -> list[dict]:
    acc = _compliance_cells(records, period)

    def values(buckets: dict) -> dict:
        if period is None:
            w, cur, tgt = buckets[None]
            return {"current": cur / w, "target": tgt / w}
        return {
            "values": [
                {"date": b.isoformat(), "current": c[1] / c[0], "target": c[2] / c[0], "n": c[0]}
                for b, c in sorted(buckets.items())
            ]
        }

    out = []
    for ref in sorted({key[0] for key in acc}):
        categories = []
        for name in sorted({key[1] for key in acc if key[0] == ref}, key=natural):
            entry = {
                "category": name,
                "labels": labels.get(f"{ref}/{name}", {**dict.fromkeys(LABELS, ""), "label1": name}),
            }
            entry.update(values(acc[(ref, name, "")]))
            if controls:
                codes = sorted((key[2] for key in acc if key[:2] == (ref, name) and key[2]), key=natural)
                entry["controls"] = [{"code": code, **values(acc[(ref, name, code)])} for code in codes]
            categories.append(entry)
        out.append(
            {
                "referential": ref,
                "labels": labels.get(ref, dict.fromkeys(LABELS, "")),
                "categories": categories,
            }
        )
    return out


# --- labels ----------------------------------------------------------------------------------


def latest_labels(uploads: list[Record], client: str | None = None) -> dict[str, dict[str, dict[str, str]]]:
    """Per label type and key: ``client``'s own latest labels; without a client, the labels most
    clients' latest uploads carry (ties: the smallest text), as whole-hub answers show them."""
    clients = sorted({record.client for record in uploads})
    own = {name: _latest(record for record in uploads if record.client == name) for name in clients}
    if client is not None:
        return own.get(client, defaultdict(dict))
    out: dict[str, dict[str, dict[str, str]]] = defaultdict(dict)
    votes: dict[tuple[str, str], list[tuple]] = defaultdict(list)
    for labels in own.values():
        for label_type, keys in labels.items():
            for key, value in keys.items():
                votes[(label_type, key)].append(tuple(sorted(value.items())))
    for (label_type, key), found in votes.items():
        counted = {value: found.count(value) for value in found}
        best = min(counted, key=lambda value: (-counted[value], value))
        out[label_type][key] = dict(best)
    return out


def _latest(uploads: Iterable[Record]) -> dict[str, dict[str, dict[str, str]]]:
    """Per label type and key, the labels of the last upload that carried the key."""
    out: dict[str, dict[str, dict[str, str]]] = defaultdict(dict)
    for record in uploads:
        if record.type in ("threat", "vulnerability"):
            for item in record.data:
                out[record.type][item["uuid"].lower()] = labels_of(item)
        elif record.type == "compliance":
            for ref in record.data:
                key = ref["referential"].lower()
                out["compliance"][key] = labels_of(ref)
                for cat in ref.get("current", []) + ref.get("target", []):
                    out["compliance"][f"{key}/{cat['label1']}"] = labels_of(cat)
    return out
