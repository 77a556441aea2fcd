"""Real hub processes on loopback for end-to-end tests: gunicorn serving ``create_app()`` on its
own database and instance folder, configured only through the environment like production."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

import requests

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class LiveHub:
    """A hub with its own SQLite database (or ``database_url``) under ``root``."""

    root: Path
    config: dict[str, str] = field(default_factory=dict)
    database_url: str | None = None
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None
    #: the checkout whose code the hub runs (another revision's, for a benchmark baseline)
    source: Path = REPO

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("STATSSERVICE_")}
        env.pop("STATS_CONFIG", None)
        env["STATS_INSTANCE_PATH"] = str(self.root / "instance")
        env["STATSSERVICE_SQLALCHEMY_DATABASE_URI"] = self.database_url or f"sqlite:///{self.root / 'hub.db'}"
        env.update({f"STATSSERVICE_{key}": value for key, value in self.config.items()})
        if self.source != REPO:  # its package first on the path, ahead of this checkout's
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(self.source), env.get("PYTHONPATH")]))
        return env

    def flask(self, *args: str, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [str(BIN / "flask"), "--app", "statsservice", *args],
            cwd=self.source,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"flask {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result

    def create_client(self, name: str, *extra: str) -> tuple[str, str]:
        """Register a client through the CLI; return (uuid, token)."""
        lines = self.flask("client_create", "--name", name, *extra).stdout.splitlines()
        fields = dict(line.split(": ", 1) for line in lines)
        return fields["UUID"], fields["Token"]

    def command(self) -> list[str]:
        """How gunicorn runs: two workers and a generous timeout (tests want room, not realism)."""
        bind = f"127.0.0.1:{self.port}"
        gunicorn = [str(BIN / "gunicorn"), "--bind", bind, "--workers", "2", "--timeout", "120"]
        return [*gunicorn, "statsservice:create_app()"]

    def server_env(self) -> dict[str, str]:
        """The environment of the gunicorn process (the CLI runs with ``env``)."""
        return self.env

    def start(self) -> Self:
        """Migrate, start gunicorn in its own process group, and wait until ``/readyz`` says ready."""
        self.root.mkdir(parents=True, exist_ok=True)
        self.flask("db", "upgrade")
        self.process = subprocess.Popen(
            self.command(),
            cwd=self.source,
            env=self.server_env(),
            stdout=subprocess.DEVNULL,
            stderr=open(self.root / "gunicorn.log", "ab"),  # noqa: SIM115 - lives as long as the process
            start_new_session=True,  # its own process group, so kill() reaches the workers too
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return self
            except requests.RequestException:  # refused, or too slow to answer under load
                pass
            if self.process.poll() is not None:
                break
            time.sleep(0.2)
        self.stop()
        raise AssertionError(f"hub did not start: {(self.root / 'gunicorn.log').read_text()[-2000:]}")

    def kill(self) -> None:
        """SIGKILL the master and its workers at once, as a power cut or the OOM killer would."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.process = None

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


def production_command() -> list[str]:
    """gunicorn as production runs it: every setting from ``contrib/gunicorn.conf.py``."""
    return [
        str(BIN / "gunicorn"),
        "-c",
        str(REPO / "contrib" / "gunicorn.conf.py"),
        "statsservice:create_app()",
    ]


def federated_pair(root: Path, **local_config: str) -> tuple[LiveHub, LiveHub, str]:
    """A global hub and a local hub registered on it as a remote client, both started.

    The local hub pushes with k = 3, one retry and a short backoff (tests want failures fast);
    ``local_config`` adds or overrides settings. Returns (global, local, the local hub's token).
    """
    world = LiveHub(root / "global", config={"MODE": "global"}).start()
    _uuid, hub_token = world.create_client("hub-lu", "--remote")
    config = {
        "REMOTE_STATS_SERVER": world.url,
        "REMOTE_STATS_TOKEN": hub_token,
        "FEDERATION_MIN_ANALYSES": "3",
        "FEDERATION_RETRIES": "1",
        "FEDERATION_BACKOFF": "0.05",
        **local_config,
    }
    return world, LiveHub(root / "local", config=config).start(), hub_token
