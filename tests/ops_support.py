"""Helpers for the operations tests: read /metrics samples, upload demo batches over HTTP, and the
environment of a hub command run as an operator would run it."""

from __future__ import annotations

import os
import sys
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from statsservice.demo.payloads import Generator
from tests import frozen_clock
from tests.api_support import auth


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """``{(sample name, sorted labels): value}`` of a Prometheus exposition text."""
    out: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def value(scraped: dict, name: str, **labels: str) -> float:
    """One sample's value; 0 when absent (a counter never incremented has no sample yet)."""
    return scraped.get((name, tuple(sorted(labels.items()))), 0.0)


def demo_records(
    anrs: int = 3, days: int = 2, end: date | None = None, seed: int = 7
) -> list[dict[str, Any]]:
    """Every record ``anrs`` analyses upload over ``days`` days ending ``end`` (default yesterday)."""
    end = end or frozen_clock.today() - timedelta(days=1)
    generator = Generator(seed=seed, anrs=anrs)
    return [record for _day, _anr, batch in generator.iter_batches(days, end) for record in batch]


def upload(http: Any, token: str, records: list[dict]) -> Any:
    return http.post("/api/v1/stats/", json=records, headers=auth(token))


def operator_env(instance: Path, database_url: str | None = None, **settings: str) -> dict[str, str]:
    """A shell's environment for a real ``flask``/``statsservice`` process: this venv's commands
    first on ``PATH``, no inherited hub settings, the given instance folder, database and settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("STATSSERVICE_") and k != "FLASK_APP"}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["STATS_INSTANCE_PATH"] = str(instance)
    if database_url:
        env["STATSSERVICE_SQLALCHEMY_DATABASE_URI"] = database_url
    env.update({f"STATSSERVICE_{key}": value for key, value in settings.items()})
    return env
