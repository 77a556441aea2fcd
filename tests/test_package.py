"""The hub as a package: the domain imports without Flask, the migrations and the instance folder
come from the package and Flask (not from paths computed on the source tree), and the
``statsservice`` command is Flask's command line bound to the app factory."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import statsservice
from statsservice.app import create_app
from tests.ops_support import operator_env

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=REPO)


def test_the_domain_imports_without_flask():
    result = python("import statsservice.domain.stats_types, sys; assert 'flask' not in sys.modules")
    assert result.returncode == 0, result.stderr
    every_module = (
        "import importlib, pkgutil, sys, statsservice.domain as d\n"
        "for m in pkgutil.walk_packages(d.__path__, 'statsservice.domain.'): importlib.import_module(m.name)\n"
        "loaded = sorted(k for k in sys.modules if k.split('.')[0] in ('flask', 'werkzeug', 'flask_sqlalchemy'))\n"
        "assert not loaded, loaded"
    )
    result = python(every_module)
    assert result.returncode == 0, result.stderr


def test_a_checkout_migrates_from_the_top_level_migrations(make_app):
    """Flask-Migrate's layout in a checkout; the wheel maps the same folder to
    ``statsservice/migrations`` (``.ci/checks.d/wheel.sh`` installs it and migrates)."""
    assert statsservice.migrations_dir() == REPO / "migrations"
    assert (REPO / "migrations" / "env.py").is_file()
    assert sorted(p.name for p in (REPO / "migrations" / "versions").glob("0001_*.py"))
    assert make_app().extensions["migrate"].directory == str(REPO / "migrations")
    assert not (REPO / "statsservice" / "migrations").exists()  # one copy


def test_every_package_of_the_tree_is_in_the_wheel():
    """``pyproject.toml`` lists the packages (the mapped migrations folder rules out
    ``packages.find``): a new subpackage missing there would be missing from the wheel."""
    listed = set(tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    tree = {
        ".".join(init.parent.relative_to(REPO).parts) for init in (REPO / "statsservice").rglob("__init__.py")
    }
    assert tree | {"statsservice.migrations", "statsservice.migrations.versions"} == listed


def test_instance_folder_is_flasks_unless_stats_instance_path(monkeypatch, tmp_path, database_url):
    config = {"SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": "not-generated", "TESTING": True}
    monkeypatch.delenv("STATS_INSTANCE_PATH", raising=False)
    app = create_app(config)
    # Flask's own choice: next to a source checkout, <prefix>/var/statsservice-instance when installed
    assert app.instance_path in (
        str(REPO / "instance"),
        str(Path(sys.prefix) / "var" / "statsservice-instance"),
    )
    monkeypatch.setenv("STATS_INSTANCE_PATH", str(tmp_path / "elsewhere"))
    assert create_app(config).instance_path == str(tmp_path / "elsewhere")


def test_the_statsservice_command_needs_no_app_option(tmp_path, database_url):
    env = operator_env(tmp_path / "instance", database_url)
    command = [str(BIN / "statsservice")]
    helped, current = (
        subprocess.run(command + args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
        for args in (["--help"], ["db", "current"])
    )
    assert helped.returncode == 0 and current.returncode == 0, helped.stderr + current.stderr
    assert "client_create" in helped.stdout and "db" in helped.stdout and "run" in helped.stdout
    assert "(head)" in current.stdout  # the package's migrations, all applied to the test database
