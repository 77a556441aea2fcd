#!/usr/bin/env python3
"""Deterministic generator of realistic daily stats uploads, shaped exactly as a
MONARC Front Office instance sends them (POST /api/v1/stats/, a JSON list).

Each analysis (ANR) sends five records a day: risk, threat, vulnerability,
cartography and compliance. Shapes follow what the Front Office's stats
collector builds; see shared/SPEC.md, "Stats data shapes".

Quirks that a real client produces and a hub must accept:
  * threat/vulnerability "averageRate" is a decimal *string* ("2.50");
  * compliance "value" fields are decimal strings ("0.45", "1");
  * an empty map is encoded as an empty JSON list ([]), e.g. when an analysis
    has no operational risks, cartography "operational" is [];
  * a dense integer-keyed map may arrive as a JSON list (index = key);
    `--php-quirks` turns such encodings on for some records.

Usage as a library:
    from monarc_payloads import Generator
    gen = Generator(seed=1, anrs=20)
    batch = gen.day_batch(anr_index=0, day=date(2026, 1, 5))   # 5 records
    for day, anr_uuid, batch in gen.iter_batches(days=30): ...

Usage from the shell (prints one JSON batch per line, a batch = one ANR-day):
    python3 monarc_payloads.py --anrs 10 --days 30 --seed 1 > uploads.jsonl
"""

from __future__ import annotations

import argparse
import json
import math
import random
import uuid
from datetime import date, timedelta

from statsservice import clock

LEVELS = ("Low risks", "Medium risks", "High risks")
TYPES = ("risk", "threat", "vulnerability", "cartography", "compliance")

_THREAT_WORDS = [
    "Fire",
    "Water damage",
    "Pollution",
    "Major accident",
    "Destruction of equipment",
    "Climatic phenomenon",
    "Seismic phenomenon",
    "Volcanic phenomenon",
    "Flood",
    "Failure of air-conditioning",
    "Loss of power supply",
    "Failure of telecommunication",
    "Electromagnetic radiation",
    "Interception of compromising signals",
    "Remote spying",
    "Eavesdropping",
    "Theft of media or documents",
    "Theft of equipment",
    "Retrieval of recycled media",
    "Disclosure",
    "Data from untrustworthy sources",
    "Tampering with hardware",
    "Tampering with software",
    "Position detection",
    "Equipment failure",
    "Equipment malfunction",
    "Saturation of the information system",
    "Software malfunction",
    "Breach of information system maintainability",
    "Unauthorised use of equipment",
    "Fraudulent copying of software",
    "Use of counterfeit software",
    "Corruption of data",
    "Illegal processing of data",
    "Error in use",
    "Abuse of rights",
    "Forging of rights",
    "Denial of actions",
    "Breach of personnel availability",
    "Ransomware",
    "Phishing",
    "Social engineering",
]
_VULN_WORDS = [
    "No security policy",
    "Lack of awareness",
    "Unpatched software",
    "Weak passwords",
    "No backup",
    "Single point of failure",
    "No access control",
    "Default credentials",
    "Unencrypted storage",
    "Unencrypted transfer",
    "No logging",
    "No monitoring",
    "Obsolete hardware",
    "Poor change management",
    "No incident response plan",
    "Shared accounts",
    "Excessive privileges",
    "No segregation of duties",
    "Unprotected network ports",
    "Missing firewall rules",
    "Insecure configuration",
    "No antivirus",
    "Removable media allowed",
    "No physical access control",
    "No clean desk policy",
    "Insufficient training",
    "No supplier assessment",
    "No business continuity plan",
    "Lack of documentation",
    "No asset inventory",
]
_REFERENTIALS = [
    ("ISO 27002", 14, 7),
    ("NIS2 measures", 10, 6),
    ("GDPR articles", 8, 5),
]


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _labels(text: str) -> dict:
    return {"label1": text, "label2": text + " (fr)", "label3": text + " (de)", "label4": text + " (nl)"}


def _dec(x: float, places: int = 2) -> str:
    return f"{x:.{places}f}"


#: weather mode: (object name, metric, change, weeks before the end it starts). ``share`` moves the
#: prevalence (the share of analyses that list the object), the others the object's mean; shifts
#: start as steps so the weather's warnings have something to find (docs/weather.md)
WEATHER_CHANGES: tuple[tuple[str, str, float, int], ...] = (
    ("Ransomware", "share", 0.3, 4),
    ("Ransomware", "averageRate", 1.2, 4),
    ("Phishing", "count", 5.0, 5),
    ("Unpatched software", "share", 0.25, 4),
    ("No backup", "share", -0.35, 4),
    ("Weak passwords", "maxRisk", 25.0, 3),
)
#: weather mode: yearly seasonality (amplitude of the prevalence) and linear trends (per year)
WEATHER_SEASONAL = {"Flood": 0.15, "Climatic phenomenon": 0.12, "Lack of awareness": 0.1}
WEATHER_TRENDS = {"Social engineering": 0.2, "Obsolete hardware": -0.15, "Default credentials": 0.1}
#: weather mode: base prevalence of the objects that move (others draw theirs in 0.25-0.7), so they
#: are among the most prevalent ones the weather forecasts
WEATHER_BASE_SHARE = {
    "Ransomware": 0.7,
    "Phishing": 0.85,
    "Unpatched software": 0.75,
    "No backup": 0.9,
    "Weak passwords": 0.85,
}
#: weather mode: from this many weeks before the end, analyses report 60 % more high risks
WEATHER_HIGH_RISKS_WEEKS = 4


class Generator:
    """Reproducible population of analyses, each with its own slowly drifting state.

    ``weather``: an opt-in mode where what the analyses report moves over time (trends, yearly
    seasonality and a few change points dated from ``end``, ``WEATHER_CHANGES``), for the cyber
    weather to forecast and warn about; off, every seed gives what it always gave."""

    def __init__(
        self,
        seed: int = 0,
        anrs: int = 10,
        php_quirks: bool = False,
        *,
        weather: bool = False,
        end: date | None = None,
    ):
        self.rng = random.Random(seed)
        self.php_quirks = php_quirks
        self.weather = weather
        self.end = end
        lib = random.Random(12345)  # the shared knowledge base is the same for every seed
        self.threats = [(_uuid(lib), w) for w in _THREAT_WORDS]
        self.vulns = [(_uuid(lib), w) for w in _VULN_WORDS]
        self.referentials = []
        for name, n_categories, n_controls in _REFERENTIALS:
            cats = []
            for c in range(n_categories):
                controls = [(f"{c + 1}.{k + 1}", _uuid(lib)) for k in range(n_controls)]
                cats.append((f"{name} category {c + 1}", controls))
            self.referentials.append((_uuid(lib), name, cats))
        self.anrs = [self._new_anr() for _ in range(anrs)]
        # weather mode: each object's base prevalence and means, from its own generator
        base = random.Random(777)
        self.base = {
            u: (
                WEATHER_BASE_SHARE.get(word, base.uniform(0.25, 0.7)),
                base.uniform(3, 9),
                base.uniform(20, 60),
                base.uniform(1, 3),
            )
            for u, word in self.threats + self.vulns
        }

    def _new_anr(self) -> dict:
        r = self.rng
        return {
            "uuid": _uuid(r),
            "size": r.randint(5, 60),
            "threats": r.sample(range(len(self.threats)), r.randint(8, len(self.threats))),
            "vulns": r.sample(range(len(self.vulns)), r.randint(10, len(self.vulns))),
            "refs": r.sample(range(len(self.referentials)), r.randint(0, len(self.referentials))),
            "maturity": r.uniform(0.1, 0.9),
            "has_op": r.random() < 0.6,
        }

    # one record per type --------------------------------------------------

    def _risk(self, anr: dict, r: random.Random, day: date | None = None) -> dict:
        worse = 1.0
        if self.weather and day is not None and self._weeks_before_end(day) < WEATHER_HIGH_RISKS_WEEKS:
            worse = 1.6

        def dist(scale: int) -> list:
            low = r.randint(0, scale)
            med = r.randint(0, scale)
            high = r.randint(0, max(1, int(scale * (1 - anr["maturity"]) * worse)))
            return [{"level": lv, "value": v} for lv, v in zip(LEVELS, (low, med, high), strict=True)]

        n = anr["size"]
        risks = {
            state: {
                "informational": dist(n if state == "current" else n // 2 + 1),
                "operational": dist(n // 3 if anr["has_op"] else 0),
            }
            for state in ("current", "residual")
        }
        total = {
            state: {
                kind: sum(x["value"] for x in risks[state][kind]) for kind in ("informational", "operational")
            }
            for state in ("current", "residual")
        }
        return {"total": total, "risks": risks}

    # weather mode -----------------------------------------------------------

    def _weeks_before_end(self, day: date) -> float:
        return ((self.end or clock.today()) - day).days / 7

    def _shift(self, word: str, metric: str, day: date) -> float:
        """The moves of ``word``'s ``metric`` on ``day``: steps, trend and (prevalence) season."""
        ago = self._weeks_before_end(day)
        total = sum(
            change
            for name, what, change, weeks in WEATHER_CHANGES
            if name == word and what == metric and ago < weeks
        )
        if metric == "share":
            total += WEATHER_SEASONAL.get(word, 0.0) * math.sin(
                2 * math.pi * day.timetuple().tm_yday / 365.25
            )
            total -= WEATHER_TRENDS.get(word, 0.0) * ago / 52
        return total

    def _weather_tv(self, anr: dict, r: random.Random, pool, day: date) -> list:
        """Objects listed by the analysis that day: those whose prevalence that day is above the
        analysis's own fixed draw for them, so the share of analyses follows the prevalence."""
        picks = random.Random(uuid.UUID(anr["uuid"]).int)
        out = []
        for u, word in pool:
            threshold = picks.random()
            share, count, max_risk, rate = self.base[u]
            if threshold >= share + self._shift(word, "share", day):
                continue
            out.append(
                {
                    "uuid": u,
                    **_labels(word),
                    "maxRisk": max(
                        0, min(80, round(max_risk + self._shift(word, "maxRisk", day) + r.gauss(0, 8)))
                    ),
                    "count": max(1, round(count + self._shift(word, "count", day) + r.gauss(0, 2))),
                    "averageRate": _dec(
                        max(0.0, min(4.0, rate + self._shift(word, "averageRate", day) + r.gauss(0, 0.4)))
                    ),
                }
            )
        return out

    def _tv(self, anr: dict, r: random.Random, pool, indexes) -> list:
        out = []
        for i in indexes:
            u, word = pool[i]
            count = r.randint(1, 12)
            out.append(
                {
                    "uuid": u,
                    **_labels(word),
                    "maxRisk": r.randint(0, 80),
                    "count": count,
                    "averageRate": _dec(r.uniform(0, 4)),
                }
            )
        return out

    def _cartography(self, anr: dict, r: random.Random) -> dict:
        impact = list(range(0, 5))
        threat = list(range(0, 5))
        vuln = list(range(1, 6))
        likelihood = sorted({t * v for t in threat for v in vuln})

        def counters(axis: list, present: bool):
            if not present:
                return []  # PHP encodes an empty map as []
            m = {}
            for i in impact:
                row = {str(x): r.randint(1, 6) for x in r.sample(axis, r.randint(0, min(4, len(axis))))}
                if row:
                    m[str(i)] = dict(sorted(row.items(), key=lambda kv: int(kv[0])))
            if self.php_quirks and m and r.random() < 0.5:
                # a dense 0..n map arrives as a JSON list
                return [m.get(str(i), {}) for i in range(max(int(k) for k in m) + 1)]
            return m

        return {
            "scales": {"impact": impact, "probability": threat, "likelihood": likelihood},
            "risks": {
                state: {
                    "informational": counters(likelihood, True),
                    "operational": counters(threat, anr["has_op"]),
                }
                for state in ("current", "residual")
            },
        }

    def _compliance(self, anr: dict, r: random.Random) -> list:
        out = []
        for ri in anr["refs"]:
            ref_uuid, name, cats = self.referentials[ri]
            current, target = [], []
            for cat_name, controls in cats:
                cur_controls, tgt_controls, total, applicable = [], [], 0.0, 0
                for code, measure in controls:
                    excluded = r.random() < 0.1
                    level = 0 if excluded else r.randint(0, 5)
                    cur_controls.append(
                        {"code": code, "measure": measure, "value": "0.00" if excluded else _dec(level * 0.2)}
                    )
                    tgt_controls.append({"code": code, "measure": measure, "value": "0" if excluded else "1"})
                    total += level
                    applicable += 0 if excluded else 1
                n = len(controls)
                current.append(
                    {**_labels(cat_name), "controls": cur_controls, "value": _dec(total / n * 0.2)}
                )
                target.append({**_labels(cat_name), "controls": tgt_controls, "value": _dec(applicable / n)})
            out.append({"referential": ref_uuid, **_labels(name), "current": current, "target": target})
        return out

    # batches ----------------------------------------------------------------

    def day_batch(self, anr_index: int, day: date) -> list:
        """The five records that one analysis uploads for one day."""
        anr = self.anrs[anr_index]
        r = random.Random(uuid.UUID(anr["uuid"]).int ^ day.toordinal())
        risk = self._risk(anr, r, day)  # first: the draws of every seed stay in their old order
        if self.weather:
            threats = self._weather_tv(anr, r, self.threats, day)
            vulns = self._weather_tv(anr, r, self.vulns, day)
        else:
            threats = self._tv(anr, r, self.threats, anr["threats"])
            vulns = self._tv(anr, r, self.vulns, anr["vulns"])
        data = {
            "risk": risk,
            "threat": threats,
            "vulnerability": vulns,
            "cartography": self._cartography(anr, r),
            "compliance": self._compliance(anr, r),
        }
        return [{"anr": anr["uuid"], "type": t, "date": day.isoformat(), "data": data[t]} for t in TYPES]

    def iter_batches(self, days: int, end: date | None = None):
        """Yield (day, anr_uuid, batch) for every analysis and each of the last `days` days."""
        end = end or clock.today()
        if self.weather and self.end is None:
            self.end = end
        for d in range(days - 1, -1, -1):
            day = end - timedelta(days=d)
            for i, anr in enumerate(self.anrs):
                yield day, anr["uuid"], self.day_batch(i, day)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--anrs", type=int, default=10)
    p.add_argument("--days", type=int, default=30)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--end", type=date.fromisoformat, default=None, help="last day, YYYY-MM-DD (default today)"
    )
    p.add_argument("--php-quirks", action="store_true", help="also emit list-encoded dense maps")
    a = p.parse_args()
    gen = Generator(seed=a.seed, anrs=a.anrs, php_quirks=a.php_quirks)
    for _day, _anr, batch in gen.iter_batches(a.days, a.end):
        print(json.dumps(batch, separators=(",", ":")))


if __name__ == "__main__":
    main()
