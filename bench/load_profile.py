"""Where the time of a load run goes (``python -m bench.load --profile DIR``), measured from
outside the hub so the hub runs its production code:

- **CPU by process group**: the machine's busy time (``/proc/stat``) split into the gunicorn
  workers, the cluster's PostgreSQL processes (``/proc/<pid>/stat``, sampled), Locust (the load
  generator shares the cores) and everything else (samplers, py-spy, other users of the machine);
- **what PostgreSQL backends wait on**: ``pg_stat_activity`` sampled every ``interval`` seconds,
  counted by state and wait event (``Lock/advisory`` is ``storage.sums.lock_days``'s per-day lock,
  ``Client/ClientRead`` a backend idle in a transaction waiting for its worker);
- **statements**: ``pg_stat_statements`` (preloaded by the cluster settings below), top by total
  time, and the lock waits PostgreSQL logged (``log_lock_waits``, waits over ``deadlock_timeout``);
- **Python stacks of the workers** with py-spy when given (``--py-spy PATH``: ``py-spy record
  --subprocesses --idle``, collapsed stacks in ``DIR/workers.txt``, summarised per hub function).

Everything goes to ``DIR/profile.md`` (and the raw files beside it).
"""

from __future__ import annotations

import os
import re
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path

from sqlalchemy import create_engine, text

#: cluster settings of a profiled run (beyond the load test's own)
PG_SETTINGS = (
    " -c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all"
    " -c log_lock_waits=on -c deadlock_timeout=100ms -c track_io_timing=on"
)
TICKS = os.sysconf("SC_CLK_TCK")


def busy_ticks() -> tuple[int, int]:
    """(busy, total) CPU ticks of the machine since boot."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


def process_ticks(pid: int) -> int:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(stat[11]) + int(stat[12])  # utime + stime


class Profile:
    """Samplers started before the load and a report written after it."""

    def __init__(
        self,
        folder: Path,
        database_url: str,
        master_pid: int,
        postmaster_pid: int,
        py_spy: str = "",
        interval: float = 0.2,
    ):
        self.folder, self.url, self.master, self.py_spy = folder, database_url, master_pid, py_spy
        self.postmaster = postmaster_pid
        self.pg_ticks: dict[int, int] = {}
        self.interval = interval
        self.waits: Counter[str] = Counter()
        self.samples = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._spy: subprocess.Popen | None = None
        self.folder.mkdir(parents=True, exist_ok=True)

    def start(self) -> None:
        from bench.harness import children

        self.workers = children(self.master)
        self.worker_ticks = {pid: process_ticks(pid) for pid in self.workers}
        self.pg_base = {pid: process_ticks(pid) for pid in [self.postmaster, *children(self.postmaster)]}
        self.machine = busy_ticks()
        self.children_cpu = os.times()
        self.started = time.monotonic()
        engine = create_engine(self.url)

        def sample() -> None:
            query = text(
                "SELECT state, coalesce(wait_event_type, 'CPU'), coalesce(wait_event, '-') FROM pg_stat_activity"
                " WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() AND state <> 'idle'"
            )
            with engine.connect() as conn:
                while not self._stop.wait(self.interval):
                    for state, kind, event in conn.execute(query):
                        self.waits[f"{state}: {kind}/{event}"] += 1
                    self.samples += 1
                    for pid in [self.postmaster, *children(self.postmaster)]:
                        self.pg_ticks[pid] = max(self.pg_ticks.get(pid, 0), process_ticks(pid))
                    conn.rollback()
            engine.dispose()

        self._thread = threading.Thread(target=sample, daemon=True)
        self._thread.start()
        if self.py_spy:
            command = [self.py_spy, "record", "--pid", str(self.master), "--subprocesses", "--idle"]
            command += [
                "--rate",
                "50",
                "--nonblocking",
                "--format",
                "raw",
                "-o",
                str(self.folder / "workers.txt"),
            ]
            log = open(self.folder / "py-spy.log", "w")  # noqa: SIM115 - lives as long as py-spy
            self._spy = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log)

    def stop(self) -> None:
        """Stop the samplers and read the CPU counters (before the hub stops)."""
        self.seconds = time.monotonic() - self.started
        busy, total = busy_ticks()
        self.machine_busy = (busy - self.machine[0]) / TICKS
        self.machine_total = (total - self.machine[1]) / TICKS
        self.workers_cpu = sum(process_ticks(pid) - ticks for pid, ticks in self.worker_ticks.items()) / TICKS
        now = os.times()
        self.locust_cpu = (now.children_user - self.children_cpu.children_user) + (
            now.children_system - self.children_cpu.children_system
        )
        self._stop.set()
        if self._thread:
            self._thread.join()
        self.pg_cpu = sum(ticks - self.pg_base.get(pid, 0) for pid, ticks in self.pg_ticks.items()) / TICKS
        if self._spy:
            self._spy.send_signal(2)  # py-spy writes its file on SIGINT
            self._spy.wait(timeout=120)

    def report(self, log_file: Path) -> str:
        lines = [
            "# Load run profile",
            "",
            f"{self.seconds:.0f} s of load; machine CPU busy {self.machine_busy:.0f} s of {self.machine_total:.0f} s"
            f" ({100 * self.machine_busy / max(self.machine_total, 1e-9):.0f}%): gunicorn workers"
            f" {self.workers_cpu:.0f} s ({len(self.workers)} workers), PostgreSQL {self.pg_cpu:.0f} s,"
            f" Locust {self.locust_cpu:.0f} s, everything else (samplers, py-spy, other users of the"
            f" machine) {self.machine_busy - self.workers_cpu - self.pg_cpu - self.locust_cpu:.0f} s.",
            "",
            f"## Active PostgreSQL backends by wait ({self.samples} samples every {self.interval} s)",
            "",
            "| state: wait | mean backends | share |",
            "|---|---:|---:|",
        ]
        total = sum(self.waits.values()) or 1
        for key, count in self.waits.most_common(12):
            lines.append(f"| {key} | {count / max(self.samples, 1):.2f} | {100 * count / total:.0f}% |")
        lines += ["", "## Statements by total time (pg_stat_statements)", ""]
        lines += self._statements()
        lines += ["", "## Lock waits logged (over deadlock_timeout)", ""]
        lines += self._lock_waits(log_file)
        if self.py_spy and (self.folder / "workers.txt").exists():
            lines += ["", "## Worker stacks (py-spy, idle included: waiting on PostgreSQL counts)", ""]
            lines += collapsed_summary(self.folder / "workers.txt")
        text_out = "\n".join(lines) + "\n"
        (self.folder / "profile.md").write_text(text_out)
        return text_out

    def _statements(self) -> list[str]:
        engine = create_engine(self.url)
        out = ["| calls | total s | mean ms | statement |", "|---:|---:|---:|---|"]
        with engine.begin() as conn:
            conn.execute(text("CREATE EXTENSION IF NOT EXISTS pg_stat_statements"))
            rows = conn.execute(
                text(
                    "SELECT calls, total_exec_time, mean_exec_time, query FROM pg_stat_statements"
                    " ORDER BY total_exec_time DESC LIMIT 15"
                )
            ).all()
        engine.dispose()
        for calls, total, mean, query in rows:
            short = re.sub(r"\s+", " ", query)[:140].replace("|", "\\|")
            out.append(f"| {calls} | {total / 1000:.1f} | {mean:.1f} | `{short}` |")
        return out

    def _lock_waits(self, log_file: Path) -> list[str]:
        """Waits PostgreSQL logged (each once, when it passed ``deadlock_timeout``), by lock."""
        found: Counter[str] = Counter()
        pattern = re.compile(r"still waiting for (\w+) on (.+?) after [0-9.]+ ms")
        for line in log_file.read_text(errors="replace").splitlines() if log_file.exists() else []:
            match = pattern.search(line)
            if match:
                found[f"{match[1]} on {re.sub(r'[0-9]+', 'N', match[2])}"] += 1
        if not found:
            return ["none"]
        return [f"- {count} waits over deadlock_timeout for {key}" for key, count in found.most_common(10)]


def collapsed_summary(path: Path, top: int = 25) -> list[str]:
    """From py-spy's collapsed stacks (``frame;frame;... count``), the samples of workers inside a
    request (``handle_request``; a worker waiting for the next request is left out): the share of
    request time per hub (``statsservice``) function, inclusive, and per leaf frame (a leaf in
    psycopg's ``wait`` is time waiting on PostgreSQL, locks included)."""
    inclusive: Counter[str] = Counter()
    leaves: Counter[str] = Counter()
    total = idle = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not count_text.isdigit():
            continue
        if "handle_request" not in stack:
            idle += int(count_text)
            continue
        count = int(count_text)
        total += count
        frames = stack.split(";")
        seen = set()
        for frame in frames:
            name, _, where = frame.partition(" (")
            if "statsservice/" in where:
                label = f"{name} ({where.split('statsservice/')[-1].split(':')[0]})"
                if label not in seen:
                    seen.add(label)
                    inclusive[label] += count
        name, _, where = frames[-1].partition(" (")
        leaves[f"{name} ({where.rsplit('/', 1)[-1].rstrip(')')})" if where else name] += count
    out = [
        f"{total} samples in requests ({idle} outside: waiting for a request, the master).",
        "",
        "| hub function (inclusive) | share of request time |",
        "|---|---:|",
    ]
    out += [
        f"| `{name}` | {100 * count / max(total, 1):.1f}% |" for name, count in inclusive.most_common(top)
    ]
    out += ["", "| leaf frame | share of request time |", "|---|---:|"]
    out += [f"| `{name}` | {100 * count / max(total, 1):.1f}% |" for name, count in leaves.most_common(15)]
    return out
