"""What the hub tells operators: counts with the right noun form, errors that name what failed
(the URL, the expected date format), and hints that work as printed."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from datetime import date
from pathlib import Path

from statsservice.storage import clients as registry
from tests.api_support import auth, new_client
from tests.ops_support import demo_records, operator_env, upload

DAY = date(2026, 1, 15)  # pinned: the messages do not depend on the day the tests run
UNREACHABLE = "http://127.0.0.1:9"  # the discard port: nothing listens there
BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parent.parent


def test_upload_message_counts_records_right(app):
    http = app.test_client()
    token = new_client("Counting FO")
    records = demo_records(anrs=1, days=1, end=DAY)
    one = upload(http, token, records[:1])
    assert one.status_code == 201 and one.get_json()["message"] == "1 record stored"
    two = upload(http, token, records[1:3])
    assert two.status_code == 201 and two.get_json()["message"] == "2 records stored"


def test_a_bad_date_names_the_expected_format(app, cli):
    token = new_client("Dates FO")
    response = app.test_client().get(
        "/api/v1/stats/", query_string={"type": "threat", "date_from": "15/01/2026"}, headers=auth(token)
    )
    assert response.status_code == 422
    assert "YYYY-MM-DD" in str(response.get_json()["errors"])
    result = cli.invoke(args=["stats_push", "--date-from", "15/01/2026", "--dry-run"])
    assert result.exit_code == 2
    assert "'15/01/2026' is not a date in the YYYY-MM-DD format" in result.output


def test_push_and_pull_failures_name_the_url(app, make_app):
    hub = make_app(
        REMOTE_STATS_SERVER=UNREACHABLE,
        REMOTE_STATS_TOKEN="x" * 32,
        FEDERATION_MIN_ANALYSES=1,
        FEDERATION_MIN_CLIENTS=1,  # one organisation's day is enough to try a delivery here
        FEDERATION_DOMINANCE=1.0,
        FEDERATION_RETRIES=0,
        FEDERATION_BACKOFF=0,
        FEDERATION_TIMEOUT=5,
    )
    with hub.app_context():
        token = new_client("Sharing FO")
        assert registry.get_by_name("Sharing FO").is_sharing_enabled
        assert upload(hub.test_client(), token, demo_records(anrs=1, days=1, end=DAY)).status_code == 201
        cli = hub.test_cli_runner()
        pushed = cli.invoke(args=["stats_push", "--date-from", DAY.isoformat(), "--date-to", DAY.isoformat()])
        assert pushed.exit_code == 1
        assert f"(ConnectionError at {UNREACHABLE}/api/v1/stats/)" in pushed.output
        assert re.search(rf"Error: \d+ aggregates? not delivered to {UNREACHABLE}", pushed.output)
        pulled = cli.invoke(args=["stats_pull"])
        assert pulled.exit_code == 1
        assert (
            f"could not pull from the global hub: ConnectionError at {UNREACHABLE}/api/v1/" in pulled.output
        )


def test_the_demo_hint_works_as_printed(app, database_url, tmp_path):
    """``stats_demo`` ends with the command that removes the demo: run exactly that."""
    env = operator_env(tmp_path / "instance", database_url)

    def run(command: list[str]) -> str:
        result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        return result.stdout

    filled = run([str(BIN / "statsservice"), "stats_demo", "--analyses", "1", "--days", "1"])
    assert re.match(r"stored \d+ demo records: 1 analysis x 1 day under 1 client named ", filled)
    hint = re.search(r"remove them with: (.+)$", filled.strip()).group(1)
    removed = run(shlex.split(hint))
    assert removed.strip().startswith("removed 1 demo client, ")


def test_flask_without_app_from_the_checkout_and_an_unmigrated_database(tmp_path):
    """``flask client_list`` as operators type it (no ``--app``) finds the hub; on a database that
    was never migrated it says so in one line, with the command that fixes it, which works."""
    env = operator_env(tmp_path / "instance")  # "flask" found on PATH, as in an operator's shell

    def run(command: list[str]) -> subprocess.CompletedProcess:
        return subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)

    empty = run(["flask", "client_list"])
    assert empty.returncode == 1 and "No such command" not in empty.stderr
    (line,) = empty.stderr.strip().splitlines()  # one line, no traceback
    assert "no such table: client" in line and str(tmp_path / "instance" / "statsservice.db") in line
    hint = line.split("Migrate with: ", 1)[1]
    assert hint == "flask --app statsservice db upgrade"
    assert run(shlex.split(hint)).returncode == 0
    listed = run(["flask", "client_list"])
    assert listed.returncode == 0 and listed.stdout == "", listed.stderr
