"""`make run` on a fresh clone installs only what the service needs; the development targets add
the test and benchmark tools. Read from `make -n` on a stamp-less copy (nothing is installed)."""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DEV_TOOLS = {
    "pytest",
    "pytest-xdist",
    "time-machine",
    "hypothesis",
    "ruff",
    "schemathesis",
    "playwright",
    "locust",
}


def _name(requirement: str) -> str:
    return re.split(r"[\s<>=!~;\[]", requirement, maxsplit=1)[0].lower()


def planned_installs(tmp_path: Path, target: str) -> list[str]:
    """The ``pip install`` commands ``make <target>`` would run on a fresh clone."""
    shutil.copy(REPO / "Makefile", tmp_path / "Makefile")
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    result = subprocess.run(
        ["make", "-n", target], cwd=tmp_path, capture_output=True, text=True, timeout=60, check=True
    )
    return [
        line for line in result.stdout.splitlines() if "pip install" in line and "--upgrade pip" not in line
    ]


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_run_installs_no_test_tool(tmp_path):
    (install,) = planned_installs(tmp_path, "run")
    assert install.endswith("pip install -q -e ."), install  # the package alone, no extras
    runtime = {
        _name(req) for req in tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    }
    assert runtime.isdisjoint(DEV_TOOLS), runtime & DEV_TOOLS


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
@pytest.mark.parametrize("target", ["test", "lint", "bench"])
def test_development_targets_add_the_dev_extras(tmp_path, target):
    assert any(".[dev]" in line for line in planned_installs(tmp_path, target))
    dev = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]["dev"]
    assert {"pytest", "ruff", "time-machine"} <= {_name(req) for req in dev}
