"""Slow clients (slowloris) against gunicorn started with the production settings
(``contrib/gunicorn.conf.py``): connections that send nothing, trickle their headers a byte at a time,
or trickle a body, are each closed by the server once its ``timeout`` runs out (the worker they hold
is aborted and replaced), a normal caller is served meanwhile, and nothing of the slow uploads is
stored. Oversized request lines and headers are refused by ``limit_request_*`` at once.

The timeout is shortened to a few seconds here; production keeps 120 s and sits behind nginx, which
buffers whole requests so gunicorn never waits on a slow client (docs/SECURITY.md).
"""

from __future__ import annotations

import socket
import sqlite3
import threading
import time
from dataclasses import dataclass, field

import requests

from tests.faults_support import ProductionHub

TIMEOUT = 2  # GUNICORN_TIMEOUT for this test
WORKERS = 2
CAP = 60.0  # a slow client still open after this long means the server never closed it


@dataclass
class SlowClient:
    """One connection sending ``head`` then ``drip`` one byte every ``pause`` seconds, for ever."""

    port: int
    head: bytes
    drip: bytes = b""
    pause: float = 0.3
    closed_by_server: bool = False
    answer: bytes = b""
    thread: threading.Thread | None = field(default=None, repr=False)

    def run(self) -> None:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=CAP)
        sock.settimeout(self.pause)
        started = time.monotonic()
        try:
            if self.head:
                sock.sendall(self.head)
            position = 0
            while time.monotonic() - started < CAP:
                try:
                    chunk = sock.recv(65536)
                    if not chunk:
                        self.closed_by_server = True
                        return
                    self.answer += chunk
                except TimeoutError:
                    pass
                if self.drip:
                    sock.sendall(self.drip[position % len(self.drip) : position % len(self.drip) + 1])
                    position += 1
        except (BrokenPipeError, ConnectionResetError):
            self.closed_by_server = True
        finally:
            sock.close()

    def start(self) -> SlowClient:
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()
        return self


def raw(port: int, data: bytes) -> bytes:
    """Send one request whole and return the status line of the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(data)
        return sock.recv(65536).split(b"\r\n", 1)[0]


def test_slow_clients_are_bounded_by_gunicorns_settings(tmp_path):
    hub = ProductionHub(
        tmp_path / "hub", settings={"WORKERS": str(WORKERS), "TIMEOUT": str(TIMEOUT), "LOGLEVEL": "info"}
    ).start()
    try:
        _uuid, token = hub.create_client("FO patient")
        _uuid, slow_token = hub.create_client("FO slow")
        header_drip = b"X-Padding: " + b"a" * 64 + b"\r\n"
        body_head = (
            "POST /api/v1/stats/ HTTP/1.1\r\nHost: hub\r\nContent-Type: application/json\r\n"
            f"X-API-KEY: {slow_token}\r\nUser-Agent: MONARC/2.13.1\r\nContent-Length: 100000\r\n\r\n["
        ).encode()
        slow = [
            SlowClient(hub.port, b""),  # connect and say nothing
            *(  # headers, one byte at a time, never finished
                SlowClient(hub.port, b"GET /api/v1/client/me HTTP/1.1\r\nHost: hub\r\n", header_drip)
                for _ in range(2)
            ),
            *(SlowClient(hub.port, body_head, b'{"anr": "x", ') for _ in range(2)),  # a body trickled
        ]
        for client in slow:
            client.start()
        time.sleep(0.5)  # the slow ones are connected first, ahead of the patient caller

        # more slow connections than workers: a normal caller waits its turn, but is served
        me = requests.get(
            f"{hub.url}/api/v1/client/me",
            headers={"X-API-KEY": token, "User-Agent": "MONARC/2.13.1"},
            timeout=CAP,
        )
        assert me.status_code == 200 and me.json()["name"] == "FO patient"

        for client in slow:
            client.thread.join(timeout=CAP + 10)
        assert [c.closed_by_server for c in slow] == [True] * len(slow), [c.answer[:80] for c in slow]
        # none of them got a success: whatever they sent was never served
        assert not [c.answer for c in slow if c.answer.startswith((b"HTTP/1.1 2", b"HTTP/1.0 2"))]

        log = (hub.root / "gunicorn.log").read_text()
        assert log.count("WORKER TIMEOUT") >= len(slow) // 2  # the bound at work, worker by worker
        # the hub is whole again: fresh workers serve, and no slow upload stored anything
        assert requests.get(f"{hub.url}/readyz", timeout=30).status_code == 200
        upload = requests.post(
            f"{hub.url}/api/v1/stats/",
            json=[],
            headers={"X-API-KEY": token, "User-Agent": "MONARC/2.13.1"},
            timeout=30,
        )
        assert upload.status_code in (400, 422)  # an empty batch: refused, but answered
        with sqlite3.connect(hub.root / "hub.db") as conn:
            assert conn.execute("SELECT count(*) FROM stats").fetchone()[0] == 0

        # oversized request line, header and header count: refused at once by limit_request_*
        assert raw(hub.port, b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: hub\r\n\r\n").startswith(
            b"HTTP/1.1 4"
        )
        big_header = b"GET /healthz HTTP/1.1\r\nHost: hub\r\nX-Big: " + b"b" * 9000 + b"\r\n\r\n"
        assert raw(hub.port, big_header).startswith(b"HTTP/1.1 4")
        many = b"".join(b"X-H%d: v\r\n" % i for i in range(150))
        assert raw(hub.port, b"GET /healthz HTTP/1.1\r\nHost: hub\r\n" + many + b"\r\n").startswith(
            b"HTTP/1.1 4"
        )
        assert raw(hub.port, b"GET /healthz HTTP/1.1\r\nHost: hub\r\n\r\n") == b"HTTP/1.1 200 OK"
    finally:
        hub.stop()
