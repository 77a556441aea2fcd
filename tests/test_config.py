"""Configuration precedence (SPEC §8): instance defaults < STATS_CONFIG < STATSSERVICE_* env."""

import pytest

from statsservice.app import create_app
from statsservice.config import ConfigError


def test_defaults_and_generated_secret(instance_dir, monkeypatch):
    monkeypatch.delenv("STATS_CONFIG", raising=False)
    app = create_app()
    assert app.config["MODE"] == "local"
    assert app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///")
    assert str(instance_dir) in app.config["SQLALCHEMY_DATABASE_URI"]
    secret = (instance_dir / "secret_key").read_text().strip()
    assert app.config["SECRET_KEY"] == secret and len(secret) >= 32
    assert oct((instance_dir / "secret_key").stat().st_mode & 0o777) == "0o600"
    assert create_app().config["SECRET_KEY"] == secret  # stable across restarts


def test_stats_config_file_then_environment(instance_dir, tmp_path, monkeypatch):
    cfg = tmp_path / "hub.py"
    cfg.write_text('MODE = "global"\nFEDERATION_MIN_ANALYSES = 5\n')
    monkeypatch.setenv("STATS_CONFIG", str(cfg))
    app = create_app()
    assert app.config["MODE"] == "global"
    assert app.config["FEDERATION_MIN_ANALYSES"] == 5
    monkeypatch.setenv("STATSSERVICE_FEDERATION_MIN_ANALYSES", "7")
    monkeypatch.setenv("STATSSERVICE_MODE", "local")
    app = create_app()
    assert app.config["FEDERATION_MIN_ANALYSES"] == 7
    assert app.config["MODE"] == "local"


def test_bad_mode_and_missing_config_file(instance_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("STATSSERVICE_MODE", "planetary")
    with pytest.raises(ConfigError, match="MODE"):
        create_app()
    monkeypatch.delenv("STATSSERVICE_MODE")
    monkeypatch.setenv("STATS_CONFIG", str(tmp_path / "nope.py"))
    with pytest.raises(ConfigError, match="missing file"):
        create_app()


@pytest.mark.parametrize(
    "value",
    [
        {"informational": [20, 4], "operational": [4, 8]},  # low above high
        {"informational": [4, 8]},  # a kind missing
        {"informational": [4], "operational": [4, 8]},
        {"informational": ["4", 8], "operational": [4, 8]},
        "4,8",
    ],
)
def test_risk_thresholds_are_checked_at_start(instance_dir, value):
    """Wrong cartography thresholds would colour every cell wrongly without a word: refused."""
    with pytest.raises(ConfigError, match="DASHBOARD_RISK_THRESHOLDS"):
        create_app({"DASHBOARD_RISK_THRESHOLDS": value})


def test_risk_thresholds_default_to_monarcs(instance_dir, monkeypatch):
    """MONARC's defaults for a new analysis (seuil1 4, seuil2 8, seuilRolf1 4, seuilRolf2 8); an
    operator's own, e.g. from the environment as JSON, are taken as they are."""
    assert create_app().config["DASHBOARD_RISK_THRESHOLDS"] == {
        "informational": [4, 8],
        "operational": [4, 8],
    }
    monkeypatch.setenv(
        "STATSSERVICE_DASHBOARD_RISK_THRESHOLDS", '{"informational": [8, 27], "operational": [2, 6]}'
    )
    assert create_app().config["DASHBOARD_RISK_THRESHOLDS"]["informational"] == [8, 27]
