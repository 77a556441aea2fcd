"""A private PostgreSQL cluster on loopback for tests that must stop or restart the server.

Runs as the unprivileged ``postgres`` user when the tests run as root (CI does), as the
current user otherwise. The binaries come from Debian's package (``.ci/setup.d/postgresql.sh``).
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
from pathlib import Path

from tests.live import free_port


def pg_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if not found:
        raise RuntimeError("PostgreSQL server binaries missing: run .ci/setup.d/postgresql.sh")
    return Path(found[-1]).parent


class PrivateCluster:
    #: server settings beyond address, port and socket folder (tests trade durability for speed)
    settings = "-c fsync=off"

    def __init__(self, root: Path):
        self.root, self.port, self.bin = root, free_port(), pg_bin()
        self.data = root / "data"

    def _run(self, *args: str) -> None:
        command = [str(self.bin / args[0]), *args[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:  # say why: a failed server command is otherwise a bare exit status
            raise AssertionError(f"{' '.join(command)} exited {done.returncode}:\n{done.stderr[-2000:]}")

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/hub"

    def own_root(self) -> None:
        """Make ``root`` the server's: owned by ``postgres`` (as root) and reachable by it."""
        self.root.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres")
            os.chmod(self.root, 0o755)
            for parent in self.root.parents:  # the postgres user must reach the folder
                if parent == Path("/"):
                    break
                os.chmod(parent, os.stat(parent).st_mode | 0o005)

    def start(self) -> PrivateCluster:
        self.own_root()
        if not self.data.exists():
            self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
            self._pg_ctl("start")
            self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "hub")
        else:
            self._pg_ctl("start")
        return self

    def _pg_ctl(self, action: str, *extra: str) -> None:
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root} {self.settings}"
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.root / "server.log"),
            "-w",
            "-o",
            options,
            action,
            *extra,
        )

    def stop(self) -> None:
        self._pg_ctl("stop", "-m", "fast", "-t", "180")  # a loaded CI machine can take over a minute

    def restart(self) -> None:
        self._pg_ctl("restart", "-m", "fast")
