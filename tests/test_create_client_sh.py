"""contrib/create_client.sh as an operator runs it: a real process, its own database."""

import os
import sqlite3
import subprocess

from tests.conftest import REPO

SCRIPT = REPO / "contrib" / "create_client.sh"


def run(tmp_path, *args, extra_env=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("STATSSERVICE_")}
    env.update({"STATS_INSTANCE_PATH": str(tmp_path / "instance"), **(extra_env or {})})
    return subprocess.run(
        [str(SCRIPT), *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )


def test_create_client_sh_prints_five_lines_and_refuses_duplicates(tmp_path):
    first = run(tmp_path, "NC3")
    assert first.returncode == 0, first.stderr
    lines = first.stdout.splitlines()
    assert [line.split(": ")[0] for line in lines] == ["UUID", "Name", "Role", "Token", "Created at"]
    token = lines[3].split(": ")[1]

    second = run(tmp_path, "NC3")
    assert second.returncode != 0
    assert second.stdout == ""
    assert second.stderr.strip().splitlines() == ["Error: a client named 'NC3' already exists"]

    db = sqlite3.connect(tmp_path / "instance" / "statsservice.db")
    dump = "\n".join(db.iterdump())
    assert "NC3" in dump and token not in dump


def test_create_client_sh_supplied_token_and_env_database(tmp_path):
    url = f"sqlite:///{tmp_path / 'other.db'}"
    token = "T" * 70
    result = run(tmp_path, "Prov", token, extra_env={"STATSSERVICE_SQLALCHEMY_DATABASE_URI": url})
    assert result.returncode == 0, result.stderr
    assert f"Token: {token}" in result.stdout
    names = sqlite3.connect(tmp_path / "other.db").execute("SELECT name FROM client").fetchall()
    assert names == [("Prov",)]


def test_create_client_sh_usage(tmp_path):
    result = run(tmp_path)
    assert result.returncode == 2 and "usage" in result.stderr
