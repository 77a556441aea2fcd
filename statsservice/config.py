"""Configuration loading and instance secrets."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from flask import Flask

from statsservice import settings
from statsservice.domain.federation.privacy import DpSettings

ENV_PREFIX = "STATSSERVICE"
MODES = ("local", "global")


class ConfigError(RuntimeError):
    """Raised at start-up for a configuration an operator must fix."""


def load_config(app: Flask, overrides: dict | None = None) -> None:
    """Fill ``app.config`` in the SPEC §8 order, then derive computed defaults."""
    app.config.from_object(settings)
    instance_file = Path(app.instance_path) / "config.py"
    if instance_file.is_file():
        app.config.from_pyfile(str(instance_file))
    if os.environ.get("STATS_CONFIG"):
        path = Path(os.environ["STATS_CONFIG"]).expanduser().resolve()
        if not path.is_file():
            raise ConfigError(f"STATS_CONFIG points to a missing file: {path}")
        app.config.from_pyfile(str(path))
    app.config.from_prefixed_env(prefix=ENV_PREFIX)
    if overrides:
        app.config.update(overrides)

    if app.config["MODE"] not in MODES:
        raise ConfigError(f"MODE must be one of {MODES}, not {app.config['MODE']!r}")
    check_risk_thresholds(app.config.get("DASHBOARD_RISK_THRESHOLDS"))
    check_privacy(app.config)
    if not app.config.get("SQLALCHEMY_DATABASE_URI"):
        db_path = Path(app.instance_path) / "statsservice.db"
        app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{db_path}"
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = instance_secret(app.instance_path, "secret_key")


def check_risk_thresholds(value: object) -> None:
    """The cartography's risk zones need, per risk kind, two numbers low <= high (MONARC's seuil1
    and seuil2): anything else would colour the map wrongly without a word, so refuse to start."""
    kinds = ("informational", "operational")
    ok = isinstance(value, dict) and set(value) == set(kinds)
    for kind in kinds if ok else ():
        pair = value[kind]  # type: ignore[index]
        ok = ok and (
            isinstance(pair, list | tuple)
            and len(pair) == 2
            and all(isinstance(v, int | float) and not isinstance(v, bool) and v >= 0 for v in pair)
            and pair[0] <= pair[1]
        )
    if not ok:
        raise ConfigError(
            "DASHBOARD_RISK_THRESHOLDS must be {'informational': [low, high], 'operational': [low, high]} "
            f"with 0 <= low <= high, not {value!r}"
        )


def check_privacy(config: dict) -> None:
    """DP mode's settings, checked at start-up: a budget that cannot be met would refuse every
    release later, and the old per-release ε would silently mean nothing now."""
    if config.get("FEDERATION_DP_EPSILON") not in (None, 0, "", False):
        raise ConfigError(
            "FEDERATION_DP_EPSILON is gone (it spent ε per day and type): set FEDERATION_DP = true, with "
            "FEDERATION_DP_YEAR_EPSILON (one budget per organisation and year, default 4) and "
            "FEDERATION_DP_DELTA; see docs/PRIVACY.md"
        )
    try:
        DpSettings.from_config(config)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def instance_secret(instance_path: str, name: str, nbytes: int = 32) -> str:
    """Read a secret file from the instance folder, creating it (mode 0600) on first use."""
    path = Path(instance_path) / name
    if path.is_file():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(nbytes)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another worker won the race
        return path.read_text().strip()
    with os.fdopen(fd, "w") as fh:
        fh.write(value + "\n")
    return value
