"""``stats_export``: demo uploads exported in Hive layout and read back with pyarrow; the files'
totals equal the database's, in flat typed columns."""

from __future__ import annotations

import csv
import math
import os
import pty
import re
import subprocess
import sys
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
from sqlalchemy import func, select

from statsservice.domain.registry import REGISTRY, TYPE_NAMES
from statsservice.extensions import db
from statsservice.storage.models import Stats
from tests.api_support import new_client
from tests.ops_support import demo_records, upload

MEASURES = {  # export columns whose sums must equal the rollup sums (m1, m2, m3)
    "threat": ("count", "max_risk", "average_rate"),
    "vulnerability": ("count", "max_risk", "average_rate"),
    "cartography": ("count",),
    "compliance": ("current", "target"),
}
LEVELS = ("low_risks", "medium_risks", "high_risks")
FLASK = str(Path(sys.executable).parent / "flask")
REPO = Path(__file__).resolve().parent.parent


#: three pinned days across a month boundary: 2026-02-27, 02-28 and 03-01
FILL_END = date(2026, 3, 1)


def fill(client) -> int:
    token = new_client("Export FO")
    records = demo_records(anrs=3, days=3, end=FILL_END)
    assert upload(client, token, records).status_code == 201
    return len(records)


def database_totals(stats_type: str) -> dict:
    # what the export must hold: every stored record exploded by its stats type
    exploded = [
        row
        for data, n in db.session.execute(select(Stats.data, Stats.n).where(Stats.type == stats_type))
        for row in REGISTRY[stats_type].explode(data, n)
    ]
    rollups = (len(exploded), *(sum(getattr(r, m) for r in exploded) for m in ("m1", "m2", "m3")))
    return {
        "records": db.session.scalar(select(func.count()).select_from(Stats).where(Stats.type == stats_type)),
        "dates": {
            d.isoformat() for d in db.session.scalars(select(Stats.date).where(Stats.type == stats_type))
        },
        "rollups": rollups[0],
        "sums": [float(v or 0) for v in rollups[1:]],
    }


def close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


def test_parquet_export_read_back_equals_database(client, cli, tmp_path):
    stored = fill(client)
    out = tmp_path / "lake"
    result = cli.invoke(
        args=["stats_export", "--format", "parquet", "--out", str(out), "--partition-by", "type,date"]
    )
    assert result.exit_code == 0, result.output
    assert f"exported {stored} records" in result.output

    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    layout = re.compile(r"^type=([a-z]+)/date=(\d{4}-\d{2}-\d{2})/part-0\.parquet$")
    assert files and all(layout.match(f) for f in files), files
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no staging left behind

    for stats_type in TYPE_NAMES:
        expected = database_totals(stats_type)
        table = ds.dataset(out / f"type={stats_type}", format="parquet", partitioning="hive").to_table()
        dates = {layout.match(f).group(2) for f in files if f.startswith(f"type={stats_type}/")}
        assert dates == expected["dates"]
        assert len(set(table.column("record_uuid").to_pylist())) == expected["records"]
        # flat, typed columns: numbers are numbers, nothing is a JSON blob
        for field in table.schema:
            if field.name in {"count", "max_risk", "average_rate", "current", "target", "total", *LEVELS}:
                assert pa.types.is_floating(field.type), field
        assert not any(
            isinstance(v, str) and v.lstrip().startswith(("{", "["))
            for name in table.column_names
            for v in table.column(name).to_pylist()
        )
        if stats_type == "risk":
            cells = [v for name in LEVELS for v in table.column(name).to_pylist() if v is not None]
            assert len(cells) == expected["rollups"]
            assert close(sum(cells), expected["sums"][0])
            continue
        assert table.num_rows == expected["rollups"]
        for index, name in enumerate(MEASURES[stats_type]):
            assert close(sum(table.column(name).to_pylist()), expected["sums"][index]), (stats_type, name)


def test_csv_by_month_and_replacing_an_export(client, cli, tmp_path):
    fill(client)
    out = tmp_path / "csv"
    args = [
        "stats_export",
        "--format",
        "csv",
        "--out",
        str(out),
        "--partition-by",
        "type, month",
        "--type",
        "threat",
    ]
    assert cli.invoke(args=args).exit_code == 0
    parts = sorted(out.rglob("*.csv"))
    assert [p.relative_to(out).as_posix() for p in parts] == [
        "type=threat/month=2026-02/part-0.csv",
        "type=threat/month=2026-03/part-0.csv",
    ]
    rows = []
    for part in parts:
        with part.open(newline="") as fh:
            month_rows = list(csv.DictReader(fh))
        assert {row["date"][:7] for row in month_rows} == {part.parent.name.removeprefix("month=")}
        rows += month_rows
    expected = database_totals("threat")
    assert len(rows) == expected["rollups"]
    assert {row["date"] for row in rows} == expected["dates"]  # with month partitions the day stays a column
    assert close(sum(float(row["count"]) for row in rows), expected["sums"][0])

    again = cli.invoke(args=args)
    assert again.exit_code == 1
    assert again.output.strip().endswith(
        "already holds an export of type=threat; use --replace to replace it"
    )
    replaced = cli.invoke(args=[*args, "--replace"])
    assert replaced.exit_code == 0
    assert sorted(out.rglob("*.csv")) == parts
    assert sorted(p.name for p in out.iterdir()) == ["type=threat"]


def test_bad_options_give_one_line_errors(app, cli, tmp_path):
    bad = cli.invoke(args=["stats_export", "--out", str(tmp_path / "x"), "--partition-by", "date"])
    assert bad.exit_code == 1 and bad.output.startswith("Error: --partition-by must be one of")
    dates = ["--date-from", "2026-02-01", "--date-to", "2026-01-01"]
    reversed_dates = cli.invoke(args=["stats_export", "--out", str(tmp_path / "y"), *dates])
    assert reversed_dates.exit_code == 1 and "--date-from is after --date-to" in reversed_dates.output
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    on_file = cli.invoke(args=["stats_export", "--out", str(blocker / "sub")])
    assert on_file.exit_code == 1 and on_file.output.startswith("Error: cannot create")


def test_empty_hub_exports_nothing(app, cli, tmp_path):
    result = cli.invoke(args=["stats_export", "--out", str(tmp_path / "empty")])
    assert result.exit_code == 0 and "exported 0 records as 0 rows in 0 parquet files" in result.output
    assert list(Path(tmp_path / "empty").iterdir()) == []


def run_export(database_url: str, tmp_path: Path, out: Path, *, terminal: bool) -> tuple[int, str]:
    """``flask stats_export`` in a process of its own, its stderr a terminal or a pipe."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("STATSSERVICE_")}
    env.update(
        STATS_INSTANCE_PATH=str(tmp_path / "instance"), STATSSERVICE_SQLALCHEMY_DATABASE_URI=database_url
    )
    command = [FLASK, "--app", "statsservice", "stats_export", "--out", str(out)]
    if not terminal:
        result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
        return result.returncode, result.stderr
    leader, follower = pty.openpty()
    with subprocess.Popen(
        command, cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=follower
    ) as process:
        os.close(follower)
        screen = b""
        while True:  # read while it runs, so a full terminal buffer never blocks it
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # EIO: the process closed the terminal
                break
            if not chunk:
                break
            screen += chunk
        code = process.wait(timeout=300)
    os.close(leader)
    return code, screen.decode(errors="replace")


def test_progress_bar_on_a_terminal_and_one_label_line_in_logs(client, database_url, tmp_path):
    fill(client)
    code, screen = run_export(database_url, tmp_path, tmp_path / "tty", terminal=True)
    assert code == 0, screen
    assert re.search(r"exporting records\s+\[#+\]\s+100%", screen), screen
    # cron's log gets the label once and no bar
    code, log = run_export(database_url, tmp_path, tmp_path / "piped", terminal=False)
    assert code == 0, log
    assert log.count("exporting records") == 1 and "#" not in log and "%" not in log
