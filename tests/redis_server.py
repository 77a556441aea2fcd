"""A private redis-server on loopback for tests of shared rate-limit counters (Debian's binary,
``.ci/setup.d/redis.sh``): no persistence, its own port, stopped with the test."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

from tests.live import free_port


class PrivateRedis:
    def __init__(self, root: Path):
        self.root, self.port = root, free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def start(self) -> PrivateRedis:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server missing: run .ci/setup.d/redis.sh")
        self.root.mkdir(parents=True, exist_ok=True)
        command = [
            binary,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ]
        log = (self.root / "redis.log").open("ab")
        self.process = subprocess.Popen(command, cwd=self.root, stdout=log, stderr=log)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise AssertionError(f"redis-server did not start: {(self.root / 'redis.log').read_text()[-2000:]}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=20)
        self.process = None
