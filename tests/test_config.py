"""Configuration precedence (SPEC §8): instance defaults < STATS_CONFIG < STATSSERVICE_* env."""

import pytest

from statsservice import create_app
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
