"""A hub run the way production runs it: gunicorn configured only by ``contrib/gunicorn.conf.py`` and
``GUNICORN_*`` variables (workers from the cores, timeouts, request limits). Used by the slow-client
test and by ``bench/load.py``; ``tests.live.LiveHub`` pins its own workers and timeout instead."""

from __future__ import annotations

import subprocess
import time

import requests

from tests.live import BIN, REPO, LiveHub


class ProductionHub(LiveHub):
    """``gunicorn`` as settings it (``settings`` holds ``GUNICORN_*`` overrides, e.g. ``{"TIMEOUT": "2"}``)."""

    def __init__(self, *args, settings: dict[str, str] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.settings = settings or {}

    def start(self) -> ProductionHub:
        self.root.mkdir(parents=True, exist_ok=True)
        self.flask("db", "upgrade")
        env = {key: value for key, value in self.env.items() if not key.startswith("GUNICORN_")}
        env.update({f"GUNICORN_{key}": value for key, value in self.settings.items()})
        env["GUNICORN_BIND"] = f"127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [
                str(BIN / "gunicorn"),
                "-c",
                str(REPO / "contrib" / "gunicorn.conf.py"),
                "statsservice:create_app()",
            ],
            cwd=REPO,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=open(self.root / "gunicorn.log", "ab"),  # noqa: SIM115 - lives as long as the process
            start_new_session=True,  # its own process group, so kill() reaches the workers too
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            if self.process.poll() is not None:
                break
            time.sleep(0.2)
        self.stop()
        raise AssertionError(f"hub did not start: {(self.root / 'gunicorn.log').read_text()[-2000:]}")
