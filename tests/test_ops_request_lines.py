"""One log line per request from a real server, in development (``statsservice run``, Werkzeug)
and in production (gunicorn with contrib/gunicorn.conf.py), and no colour codes in a log file."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
import requests

from tests.live import BIN, REPO, LiveHub


@dataclass
class DevHub(LiveHub):
    """The development server, as ``make run`` starts it."""

    def command(self) -> list[str]:
        return [str(BIN / "statsservice"), "run", "--host", "127.0.0.1", "--port", str(self.port)]


@dataclass
class ProductionHub(LiveHub):
    """gunicorn with the shipped settings, as ``make serve`` and the systemd unit start it."""

    def command(self) -> list[str]:
        conf = str(REPO / "contrib" / "gunicorn.conf.py")
        return [str(BIN / "gunicorn"), "-c", conf, "--workers", "1", "statsservice:create_app()"]

    def server_env(self) -> dict[str, str]:
        return {**self.env, "GUNICORN_BIND": f"127.0.0.1:{self.port}"}


@pytest.mark.parametrize("kind", [DevHub, ProductionHub], ids=["development", "production"])
def test_one_line_per_request_without_colours(kind, tmp_path):
    hub = kind(tmp_path / "hub").start()
    try:
        for _ in range(3):
            assert requests.get(f"{hub.url}/healthz", timeout=10).status_code == 200
        assert requests.get(f"{hub.url}/no-such-page-here", timeout=10).status_code == 404
    finally:
        hub.stop()
    text = (hub.root / "gunicorn.log").read_text()
    assert "\x1b[" not in text  # the log goes to a file: no ANSI colour codes
    health = [line for line in text.splitlines() if "/healthz" in line]
    assert len(health) == 3, text  # one line per request, not a JSON line plus an access line
    assert all(json.loads(line)["event"] == "request" for line in health)
    assert "no-such-page-here" not in text  # the raw path is never logged: the route is
    unmatched = [json.loads(line) for line in text.splitlines() if "<unmatched>" in line]
    assert [entry["status"] for entry in unmatched] == [404]
