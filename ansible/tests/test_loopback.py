"""Apply the role to this machine with ``ansible-playbook -c local``, twice, then run the hub it
installed. Run by ``.ci/checks.d/ansible.sh`` (which provides Ansible in its own virtualenv and
a PostgreSQL server), not by ``make test``:

    ANSIBLE_PLAYBOOK=/path/to/ansible-playbook TEST_DATABASE_URL=postgresql+psycopg://... \\
        .venv/bin/pytest -q ansible/tests

Everything lands under a temporary folder; the database of TEST_DATABASE_URL is reset and used.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

REPO = Path(__file__).resolve().parents[2]
PLAYBOOK = REPO / "ansible" / "tests" / "loopback.yml"
DB_USER = "statsservice_loopback"
SNAPSHOT_IGNORE = (
    ".git",
    ".venv",
    "instance",
    "__pycache__",
    "*.pyc",
    "*.egg-info",
    ".*_cache",
    "node_modules",
)
RECAP = re.compile(r"^localhost\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def required_env(name: str) -> str:
    value = os.environ.get(name)
    assert value, f"{name} must be set (see .ci/checks.d/ansible.sh)"
    return value


def reset_database(url: str) -> None:
    """Empty the database entirely (tables, functions, triggers), as a new one would be."""
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public AUTHORIZATION pg_database_owner"))
    engine.dispose()


def drop_role(url: str) -> None:
    """Give everything the role's database user owns back to the admin, then drop it."""
    admin = make_url(url).username or "postgres"
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        if conn.scalar(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": DB_USER}):
            conn.execute(text(f'ALTER DATABASE "{make_url(url).database}" OWNER TO "{admin}"'))
            conn.execute(text(f'REASSIGN OWNED BY "{DB_USER}" TO "{admin}"'))
            conn.execute(text(f'DROP OWNED BY "{DB_USER}"'))
            conn.execute(text(f'DROP ROLE "{DB_USER}"'))
    engine.dispose()


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    playbook_bin = required_env("ANSIBLE_PLAYBOOK")
    url = required_env("TEST_DATABASE_URL")
    parsed = make_url(url)
    assert parsed.get_backend_name() == "postgresql", "the role deploys on PostgreSQL"
    reset_database(url)
    drop_role(url)
    root = tmp_path_factory.mktemp("loopback")
    # a snapshot of the checkout, so edits made meanwhile cannot make the second run change things
    source = root / "checkout"
    shutil.copytree(REPO, source, symlinks=True, ignore=shutil.ignore_patterns(*SNAPSHOT_IGNORE))
    port = free_port()
    user = subprocess.run(["id", "-un"], capture_output=True, text=True, check=True).stdout.strip()
    group = subprocess.run(["id", "-gn"], capture_output=True, text=True, check=True).stdout.strip()
    clients = [
        {"name": "Loopback FO", "token": secrets.token_urlsafe(48)},
        {"name": "Loopback admin", "token": secrets.token_urlsafe(48), "role": "admin"},
    ]
    variables = {
        "ansible_python_interpreter": str(Path(playbook_bin).parent / "python"),
        "ansible_become_method": "ansible.builtin.su",
        "statsservice_source": str(source),
        "statsservice_root": str(root / "opt"),
        "statsservice_python": sys.executable,
        "statsservice_config_dir": str(root / "etc"),
        "statsservice_instance_dir": str(root / "var" / "lib"),
        "statsservice_log_dir": str(root / "var" / "log"),
        "statsservice_runtime_dir": str(root / "run" / "statsservice"),
        "statsservice_wrapper_link": "",
        "statsservice_systemd_unit_path": str(root / "systemd" / "statsservice.service"),
        "statsservice_cron_file": str(root / "cron.d" / "statsservice"),
        "statsservice_install_packages": False,
        "statsservice_manage_user": False,
        "statsservice_user": user,
        "statsservice_group": group,
        "statsservice_manage_services": False,
        "statsservice_nginx": False,
        "statsservice_postgresql_install": False,
        "statsservice_postgresql_become": False,
        "statsservice_postgresql_login_user": parsed.username or "postgres",
        "statsservice_postgresql_login_password": parsed.password or "",
        "statsservice_postgresql_login_host": parsed.host or "127.0.0.1",
        "statsservice_postgresql_login_port": parsed.port or 5432,
        "statsservice_db_name": parsed.database,
        "statsservice_db_user": DB_USER,
        "statsservice_db_password": secrets.token_urlsafe(24) + "/@:%",  # characters a URL must escape
        "statsservice_db_host": parsed.host or "127.0.0.1",
        "statsservice_db_port": parsed.port or 5432,
        "statsservice_bind": f"127.0.0.1:{port}",
        "statsservice_gunicorn_workers": 2,
        "statsservice_remote_stats_server": "http://127.0.0.1:9",  # renders the push/pull jobs
        "statsservice_remote_stats_token": secrets.token_urlsafe(32),
        "statsservice_metrics_token": secrets.token_urlsafe(24),
        "statsservice_clients": clients,
    }
    (root / "cron.d").mkdir()
    (root / "systemd").mkdir()
    vars_file = root / "vars.json"
    vars_file.write_text(json.dumps(variables))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STATSSERVICE_", "STATS_"))}
    env.update(
        ANSIBLE_FORCE_COLOR="0", ANSIBLE_NOCOLOR="1", ANSIBLE_CONFIG=str(REPO / "ansible" / "ansible.cfg")
    )

    def apply(*extra: str) -> tuple[int, str]:
        result = subprocess.run(
            [playbook_bin, "-i", "localhost,", "-c", "local", str(PLAYBOOK), "-e", f"@{vars_file}", *extra],
            cwd=REPO / "ansible",
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )
        output = result.stdout + result.stderr
        assert result.returncode == 0, output[-6000:]
        _ok, changed, unreachable, failed = map(int, RECAP.search(result.stdout).groups())
        assert unreachable == failed == 0
        return changed, output

    yield {"apply": apply, "root": root, "vars": variables, "clients": clients, "url": url, "port": port}
    drop_role(url)
    reset_database(url)


@pytest.fixture(scope="module")
def applied(deployment):
    first, output = deployment["apply"]()
    second, again = deployment["apply"]()
    return {**deployment, "first": first, "first_output": output, "second": second, "second_output": again}


def test_first_run_installs_and_second_run_changes_nothing(applied):
    assert applied["first"] > 0
    assert applied["second"] == 0, applied["second_output"][-4000:]


def test_files_are_in_place(applied):
    root, variables = applied["root"], applied["vars"]
    config = (root / "etc" / "config.py").read_text()
    assert 'MODE = "local"' in config and "TRUSTED_PROXIES = 0" in config and "LOG_CLI_RUNS = True" in config
    assert oct((root / "etc" / "config.py").stat().st_mode)[-3:] == "640"
    cron = (root / "cron.d" / "statsservice").read_text()
    wrapper = variables["statsservice_root"] + "/bin/statsservice"
    for command in ("stats_push", "stats_pull", "stats_purge"):
        assert f"{wrapper} {command} >>" in cron
    assert (root / "opt" / "app" / "statsservice" / "__init__.py").is_file()
    assert not (root / "opt" / "app" / ".git").exists() and not (root / "opt" / "app" / ".venv").exists()


def test_wrapper_runs_commands_against_the_migrated_database(applied):
    wrapper = applied["vars"]["statsservice_root"] + "/bin/statsservice"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STATSSERVICE_", "STATS_"))}
    listing = subprocess.run([wrapper, "client_list"], env=env, capture_output=True, text=True, timeout=120)
    assert listing.returncode == 0, listing.stderr
    names = {client["name"] for client in applied["clients"]}
    assert all(name in listing.stdout for name in names)
    assert all(client["token"] not in listing.stdout + listing.stderr for client in applied["clients"])


def unit_environment(unit: str) -> tuple[dict[str, str], list[str]]:
    env = dict(
        line.removeprefix("Environment=").split("=", 1)
        for line in unit.splitlines()
        if line.startswith("Environment=")
    )
    (exec_start,) = [
        line.removeprefix("ExecStart=") for line in unit.splitlines() if line.startswith("ExecStart=")
    ]
    return env, shlex.split(exec_start)


def test_the_installed_service_answers_and_knows_the_clients(applied):
    """Start gunicorn exactly as the rendered unit would (its Environment= and ExecStart=)."""
    root, variables = applied["root"], applied["vars"]
    unit_env, command = unit_environment((root / "systemd" / "statsservice.service").read_text())
    (root / "run" / "statsservice" / "metrics").mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STATSSERVICE_", "STATS_"))}
    env.update(unit_env)
    log = root / "gunicorn.log"
    process = subprocess.Popen(
        command,
        cwd=variables["statsservice_root"] + "/app",
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log.open("ab"),
    )
    base = f"http://127.0.0.1:{applied['port']}"
    try:
        deadline = time.monotonic() + 90
        ready = None
        while time.monotonic() < deadline and process.poll() is None:
            try:
                ready = requests.get(f"{base}/readyz", timeout=2)
                if ready.status_code == 200:
                    break
            except requests.RequestException:  # not listening yet, or still busy starting
                pass
            time.sleep(0.3)
        assert ready is not None and ready.status_code == 200, log.read_text()[-3000:]
        assert ready.json()["revision"] == ready.json()["head"]  # migrations applied by the role

        fo, admin = applied["clients"]
        me = requests.get(f"{base}/api/v1/client/me", headers={"X-API-KEY": fo["token"]}, timeout=10)
        assert me.status_code == 200 and me.json()["name"] == fo["name"]
        metrics = requests.get(
            f"{base}/metrics",
            headers={"Authorization": f"Bearer {variables['statsservice_metrics_token']}"},
            timeout=10,
        )
        assert metrics.status_code == 200 and "statsservice_database_up 1.0" in metrics.text
        assert requests.get(f"{base}/metrics", timeout=10).status_code == 401

        # the API method of creating clients, against the running service: 201 once, then 304
        extra = [{"name": "Loopback API FO", "token": secrets.token_urlsafe(48)}]
        api_vars = [
            "-e",
            json.dumps(
                {
                    "statsservice_clients_via": "api",
                    "statsservice_admin_token": admin["token"],
                    "statsservice_clients": extra,
                }
            ),
        ]
        created, _ = applied["apply"](*api_vars, "--tags", "clients")
        unchanged, _ = applied["apply"](*api_vars, "--tags", "clients")
        assert (created, unchanged) == (1, 0)
        me = requests.get(f"{base}/api/v1/client/me", headers={"X-API-KEY": extra[0]["token"]}, timeout=10)
        assert me.status_code == 200 and me.json()["name"] == "Loopback API FO"
        assert fo["token"] not in log.read_text()
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
