"""Apply the role to this machine with ``ansible-playbook -c local``, twice, then run the hub it
installed behind the nginx site it rendered. Run by ``.ci/checks.d/ansible.sh`` (which provides
Ansible in its own virtualenv, Debian 12's nginx binary and a PostgreSQL server), not by
``make test``:

    ANSIBLE_PLAYBOOK=/path/to/ansible-playbook NGINX_BIN=/path/to/nginx \\
        TEST_DATABASE_URL=postgresql+psycopg://... .venv/bin/pytest -q ansible/tests

Everything lands under a temporary folder; the database of TEST_DATABASE_URL is reset and used,
with a database user of its own (``<database>_loopback``). nginx and gunicorn run in the
foreground as children of the test, on free ports, and are stopped at the end.
"""

from __future__ import annotations

import json
import os
import pwd
import re
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

REPO = Path(__file__).resolve().parents[2]
PLAYBOOK = REPO / "ansible" / "tests" / "loopback.yml"
PREFIX = "/stats"
BODY_LIMIT_MB = 1  # statsservice_max_content_length_mb: the app's limit and nginx's
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


def has_ipv6() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(("::1", 0))
        return True
    except OSError:
        return False


def required_env(name: str) -> str:
    value = os.environ.get(name)
    assert value, f"{name} must be set (see .ci/checks.d/ansible.sh)"
    return value


def clean_env() -> dict[str, str]:
    """This process's environment without the hub settings a developer may have exported."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("STATSSERVICE_", "STATS_"))}


def reset_database(url: str) -> None:
    """Empty the database entirely (tables, functions, triggers), as a new one would be."""
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public AUTHORIZATION pg_database_owner"))
    engine.dispose()


def drop_role(url: str, role: str) -> None:
    """Give everything the role's database user owns back to the admin, then drop it."""
    admin = make_url(url).username or "postgres"
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        if conn.scalar(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}):
            conn.execute(text(f'ALTER DATABASE "{make_url(url).database}" OWNER TO "{admin}"'))
            conn.execute(text(f'REASSIGN OWNED BY "{role}" TO "{admin}"'))
            conn.execute(text(f'DROP OWNED BY "{role}"'))
            conn.execute(text(f'DROP ROLE "{role}"'))
    engine.dispose()


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"),
            *("-keyout", str(key), "-out", str(cert)),
            *("-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost"),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key


def stop(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def wait_until(check: Callable[[], bool], process: subprocess.Popen, log: Path) -> None:
    """Poll ``check`` until it holds; fail with the process's log if it exits or never does."""
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if check():
                return
        except requests.RequestException:  # not listening yet, or still busy starting
            pass
        time.sleep(0.3)
    raise AssertionError(log.read_text()[-3000:])


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    playbook_bin = required_env("ANSIBLE_PLAYBOOK")
    url = required_env("TEST_DATABASE_URL")
    parsed = make_url(url)
    assert parsed.get_backend_name() == "postgresql", "the role deploys on PostgreSQL"
    db_user = f"{parsed.database}_loopback"  # a role of the cluster: named after our database
    reset_database(url)
    drop_role(url, db_user)
    root = tmp_path_factory.mktemp("loopback")
    # a snapshot of the checkout, so edits made meanwhile cannot make the second run change things
    source = root / "checkout"
    shutil.copytree(REPO, source, symlinks=True, ignore=shutil.ignore_patterns(*SNAPSHOT_IGNORE))
    user = subprocess.run(["id", "-un"], capture_output=True, text=True, check=True).stdout.strip()
    group = subprocess.run(["id", "-gn"], capture_output=True, text=True, check=True).stdout.strip()
    cert, key = self_signed_certificate(root / "tls")
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
        "statsservice_postgresql_install": False,
        "statsservice_postgresql_become": False,
        "statsservice_postgresql_login_user": parsed.username or "postgres",
        "statsservice_postgresql_login_password": parsed.password or "",
        "statsservice_postgresql_login_host": parsed.host or "127.0.0.1",
        "statsservice_postgresql_login_port": parsed.port or 5432,
        "statsservice_db_name": parsed.database,
        "statsservice_db_user": db_user,
        "statsservice_db_password": secrets.token_urlsafe(24) + "/@:%",  # characters a URL must escape
        "statsservice_db_host": parsed.host or "127.0.0.1",
        "statsservice_db_port": parsed.port or 5432,
        # the "replica" is the primary itself (not in recovery: no lag): the setting renders and the hub
        # serves its reads through it (tests/test_replica_postgres.py has a real standby)
        "statsservice_read_db_host": parsed.host or "127.0.0.1",
        "statsservice_read_replica_max_lag_seconds": 30,
        "statsservice_bind": f"127.0.0.1:{free_port()}",
        "statsservice_gunicorn_workers": 2,
        "statsservice_max_content_length_mb": BODY_LIMIT_MB,
        "statsservice_remote_stats_server": "http://127.0.0.1:9",  # renders the push/pull jobs
        "statsservice_remote_stats_token": secrets.token_urlsafe(32),
        "statsservice_metrics_token": secrets.token_urlsafe(24),
        "statsservice_clients": clients,
        "statsservice_nginx": True,
        "statsservice_nginx_site_path": str(root / "nginx" / "statsservice.conf"),
        "statsservice_nginx_site_link": "",
        "statsservice_nginx_http_port": free_port(),
        "statsservice_nginx_https_port": free_port(),
        "statsservice_nginx_ipv6": has_ipv6(),
        "statsservice_nginx_log_dir": str(root / "nginx" / "log"),
        "statsservice_nginx_cache_dir": str(root / "nginx" / "cache"),
        "statsservice_nginx_cache_owner": pwd.getpwuid(os.geteuid()).pw_name,
        "statsservice_server_name": "localhost",
        "statsservice_url_prefix": PREFIX,
        "statsservice_tls_certificate": str(cert),
        "statsservice_tls_certificate_key": str(key),
    }
    for folder in ("cron.d", "systemd", "nginx/log"):
        (root / folder).mkdir(parents=True)
    vars_file = root / "vars.json"
    vars_file.write_text(json.dumps(variables))
    env = clean_env()
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

    yield {"apply": apply, "root": root, "vars": variables, "clients": clients, "url": url}
    drop_role(url, db_user)
    reset_database(url)


@pytest.fixture(scope="module")
def applied(deployment):
    first, output = deployment["apply"]()
    second, again = deployment["apply"]()
    return {**deployment, "first": first, "first_output": output, "second": second, "second_output": again}


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


@pytest.fixture(scope="module")
def service(applied) -> Iterator[str]:
    """gunicorn started exactly as the rendered unit would (its Environment= and ExecStart=)."""
    root, variables = applied["root"], applied["vars"]
    unit_env, command = unit_environment((root / "systemd" / "statsservice.service").read_text())
    (root / "run" / "statsservice").mkdir(parents=True, exist_ok=True)  # systemd's RuntimeDirectory
    env = {**clean_env(), **unit_env}
    log = root / "gunicorn.log"
    process = subprocess.Popen(
        command,
        cwd=variables["statsservice_root"] + "/app",
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log.open("ab"),
    )
    base = f"http://{variables['statsservice_bind']}"
    try:
        wait_until(lambda: requests.get(f"{base}/readyz", timeout=2).status_code == 200, process, log)
        yield base
    finally:
        stop(process)
    assert not any(client["token"] in log.read_text() for client in applied["clients"])


def nginx_config(root: Path, site: Path) -> Path:
    """A main nginx.conf around one site, with every path nginx writes under ``root``."""
    (root / "tmp").mkdir(parents=True, exist_ok=True)
    conf = root / "nginx.conf"
    temp = "\n".join(
        f"    {kind}_temp_path {root / 'tmp' / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    conf.write_text(
        ("user root;\n" if os.geteuid() == 0 else "")
        + f"worker_processes 1;\npid {root / 'nginx.pid'};\nerror_log {root / 'error.log'};\n"
        + "events { worker_connections 64; }\n"
        + f"http {{\n    access_log off;\n{temp}\n    include {site};\n}}\n"
    )
    return conf


def nginx_command(conf: Path, *args: str) -> list[str]:
    return [required_env("NGINX_BIN"), "-e", "stderr", "-p", f"{conf.parent}/", "-c", str(conf), *args]


@pytest.fixture(scope="module")
def proxy(applied, service) -> Iterator[dict]:
    """Debian 12's nginx serving the rendered site (TLS, prefix) in front of ``service``."""
    root, variables = applied["root"], applied["vars"]
    conf = nginx_config(root / "nginx" / "run", Path(variables["statsservice_nginx_site_path"]))
    log = root / "nginx" / "nginx.log"
    process = subprocess.Popen(
        nginx_command(conf, "-g", "daemon off;"), stdout=subprocess.DEVNULL, stderr=log.open("ab")
    )
    https = f"https://localhost:{variables['statsservice_nginx_https_port']}{PREFIX}"
    verify = variables["statsservice_tls_certificate"]
    try:
        wait_until(
            lambda: requests.get(f"{https}/readyz", verify=verify, timeout=2).status_code == 200, process, log
        )
        yield {"https": https, "verify": verify, "http_port": variables["statsservice_nginx_http_port"]}
    finally:
        stop(process)


def test_first_run_installs_and_second_run_changes_nothing(applied):
    assert applied["first"] > 0
    assert applied["second"] == 0, applied["second_output"][-4000:]


def test_files_are_in_place(applied):
    root, variables = applied["root"], applied["vars"]
    config = (root / "etc" / "config.py").read_text()
    assert 'MODE = "local"' in config and "TRUSTED_PROXIES = 1" in config and "LOG_CLI_RUNS = True" in config
    assert f"MAX_CONTENT_LENGTH = {BODY_LIMIT_MB * 1024 * 1024}" in config
    replica_uri = f"@{variables['statsservice_read_db_host']}:{variables['statsservice_db_port']}/"
    assert f'READ_DATABASE_URI = "postgresql+psycopg://{variables["statsservice_db_user"]}:' in config
    assert replica_uri + f'{variables["statsservice_db_name"]}"' in config
    assert "READ_REPLICA_MAX_LAG_SECONDS = 30.0" in config
    assert oct((root / "etc" / "config.py").stat().st_mode)[-3:] == "640"
    cron = (root / "cron.d" / "statsservice").read_text()
    wrapper = variables["statsservice_root"] + "/bin/statsservice"
    for command in ("stats_release", "stats_push", "stats_pull", "stats_purge"):
        assert f"{wrapper} {command} >>" in cron
    site = Path(variables["statsservice_nginx_site_path"]).read_text()
    assert f"client_max_body_size {BODY_LIMIT_MB}m;" in site and f"location {PREFIX}/ {{" in site
    assert (root / "opt" / "app" / "statsservice" / "__init__.py").is_file()
    assert not (root / "opt" / "app" / ".git").exists() and not (root / "opt" / "app" / ".venv").exists()


def test_wrapper_runs_commands_against_the_migrated_database(applied):
    wrapper = applied["vars"]["statsservice_root"] + "/bin/statsservice"
    listing = subprocess.run(
        [wrapper, "client_list"], env=clean_env(), capture_output=True, text=True, timeout=120
    )
    assert listing.returncode == 0, listing.stderr
    names = {client["name"] for client in applied["clients"]}
    assert all(name in listing.stdout for name in names)
    assert all(client["token"] not in listing.stdout + listing.stderr for client in applied["clients"])


def test_the_installed_service_answers_and_knows_the_clients(applied, service):
    ready = requests.get(f"{service}/readyz", timeout=10)
    assert ready.json()["revision"] == ready.json()["head"]  # migrations applied by the role
    assert ready.json()["read_replica"]["usable"] is True  # the configured replica answers
    fo = applied["clients"][0]
    me = requests.get(f"{service}/api/v1/client/me", headers={"X-API-KEY": fo["token"]}, timeout=10)
    assert me.status_code == 200 and me.json()["name"] == fo["name"]
    metrics = requests.get(
        f"{service}/metrics",
        headers={"Authorization": f"Bearer {applied['vars']['statsservice_metrics_token']}"},
        timeout=10,
    )
    assert metrics.status_code == 200 and "statsservice_database_up 1.0" in metrics.text
    assert requests.get(f"{service}/metrics", timeout=10).status_code == 401


def test_clients_through_the_admin_api_201_then_304(applied, service):
    admin = applied["clients"][1]
    extra = [{"name": "Loopback API FO", "token": secrets.token_urlsafe(48)}]
    api_vars = {
        "statsservice_clients_via": "api",
        "statsservice_admin_token": admin["token"],
        "statsservice_clients": extra,
    }
    created, _ = applied["apply"]("-e", json.dumps(api_vars), "--tags", "clients")
    unchanged, _ = applied["apply"]("-e", json.dumps(api_vars), "--tags", "clients")
    assert (created, unchanged) == (1, 0)
    me = requests.get(f"{service}/api/v1/client/me", headers={"X-API-KEY": extra[0]["token"]}, timeout=10)
    assert me.status_code == 200 and me.json()["name"] == "Loopback API FO"


def test_nginx_accepts_the_rendered_site_and_the_contrib_sample(applied):
    """``nginx -t`` of Debian 12's nginx (1.22) on both files (it parses, loads certificates and
    opens logs, binds nothing)."""
    root, variables = applied["root"], applied["vars"]
    site = Path(variables["statsservice_nginx_site_path"])
    sample = root / "nginx" / "sample" / "statsservice.conf"
    sample.parent.mkdir(parents=True)
    sample.write_text(
        re.sub(
            r"/etc/letsencrypt/live/stats\.example\.org/(fullchain|privkey)\.pem",
            lambda m: variables["statsservice_tls_certificate" + ("" if m[1] == "fullchain" else "_key")],
            (REPO / "contrib" / "nginx.conf.sample").read_text(),
        ).replace("/var/log/nginx", variables["statsservice_nginx_log_dir"])
    )
    for tested in (site, sample):
        conf = nginx_config(tested.parent / "check", tested)
        check = subprocess.run(nginx_command(conf, "-t"), capture_output=True, text=True, timeout=60)
        assert check.returncode == 0 and "test is successful" in check.stderr, (tested, check.stderr)
        assert "[warn]" not in check.stderr, check.stderr


def test_through_nginx_tls_prefix_and_the_body_limit(applied, proxy):
    https, verify = proxy["https"], proxy["verify"]
    fo = applied["clients"][0]
    # plain HTTP redirects to HTTPS, keeping the path
    plain = requests.get(
        f"http://127.0.0.1:{proxy['http_port']}{PREFIX}/readyz", allow_redirects=False, timeout=10
    )
    https_port = applied["vars"]["statsservice_nginx_https_port"]
    assert plain.status_code == 301
    assert plain.headers["Location"] == f"https://127.0.0.1:{https_port}{PREFIX}/readyz"
    # the app builds its links with the public scheme, host, port and prefix, whatever the client
    # claims in X-Forwarded-* headers (nginx sets them all)
    spoofed = {"X-Forwarded-Prefix": "/evil", "X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "http"}
    redirect = requests.get(
        f"{https}/api/v1/stats", headers=spoofed, verify=verify, allow_redirects=False, timeout=10
    )
    assert redirect.status_code == 308, redirect.text
    assert redirect.headers["Location"] == f"{https}/api/v1/stats/"
    page = requests.get(f"{https}/", verify=verify, timeout=10)
    assert page.status_code == 200 and f'href="{PREFIX}/static/' in page.text
    # public answers come from nginx's cache the second time; a client's never do
    about = [requests.get(f"{https}/about.json", verify=verify, timeout=10) for _ in range(2)]
    assert [r.headers.get("X-Cache-Status") for r in about] == ["MISS", "HIT"], about[1].headers
    assert about[0].json() == about[1].json() and about[1].headers["ETag"] == about[0].headers["ETag"]
    mine = requests.get(f"{https}/about.json", headers={"X-API-KEY": fo["token"]}, verify=verify, timeout=10)
    assert mine.headers.get("X-Cache-Status") == "BYPASS"
    me = requests.get(
        f"{https}/api/v1/client/me", headers={"X-API-KEY": fo["token"]}, verify=verify, timeout=10
    )
    assert me.status_code == 200 and me.json()["name"] == fo["name"]

    # nginx's body limit is the app's: a body at the limit reaches the app (which answers in JSON
    # about its content), one byte more is refused by nginx before the app sees it
    limit = BODY_LIMIT_MB * 1024 * 1024
    headers = {"X-API-KEY": fo["token"], "Content-Type": "application/json"}
    at_limit = requests.post(
        f"{https}/api/v1/stats/", data=b" " * limit, headers=headers, verify=verify, timeout=60
    )
    assert at_limit.status_code != 413 and at_limit.headers["Content-Type"].startswith("application/"), (
        at_limit.text
    )
    over = requests.post(
        f"{https}/api/v1/stats/", data=b" " * (limit + 1), headers=headers, verify=verify, timeout=60
    )
    assert over.status_code == 413 and "nginx" in over.text

    # /metrics from an allowed address (loopback), with the app's bearer token
    token = applied["vars"]["statsservice_metrics_token"]
    metrics = requests.get(
        f"{https}/metrics", headers={"Authorization": f"Bearer {token}"}, verify=verify, timeout=10
    )
    assert metrics.status_code == 200 and 'route="/api/v1/client/me"' in metrics.text
    assert requests.get(f"{https}/metrics", verify=verify, timeout=10).status_code == 401
