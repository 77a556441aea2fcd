"""gunicorn settings for statsservice: ``gunicorn -c contrib/gunicorn.conf.py 'statsservice:create_app()'``.

Every value can be overridden by an environment variable (``GUNICORN_BIND``, ``GUNICORN_WORKERS``,
...), which is how the systemd unit and the Ansible role set them.
"""

import multiprocessing
import os
import tempfile
from pathlib import Path


def _env(name: str, default: str) -> str:
    return os.environ.get(f"GUNICORN_{name}", default)


bind = _env("BIND", "127.0.0.1:5005")
# Uploads are CPU-bound JSON validation: about two workers per core, capped for small hosts.
workers = int(_env("WORKERS", str(min(2 * multiprocessing.cpu_count() + 1, 17))))
worker_class = "sync"
# A Front Office batch of 20,000 records takes seconds; keep the default well above that.
timeout = int(_env("TIMEOUT", "120"))
graceful_timeout = int(_env("GRACEFUL_TIMEOUT", "30"))
keepalive = int(_env("KEEPALIVE", "5"))
# Recycle workers now and then so a slow leak in a dependency never grows without bound.
max_requests = int(_env("MAX_REQUESTS", "2000"))
max_requests_jitter = int(_env("MAX_REQUESTS_JITTER", "200"))
# The FO sends GET parameters in the body, but the query string may be long too.
limit_request_line = int(_env("LIMIT_REQUEST_LINE", "8190"))
forwarded_allow_ips = _env("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
proc_name = "statsservice"

# The app logs one JSON line per request (route, status, duration, client uuid, request id) to
# stderr; gunicorn's own access log is off unless GUNICORN_ACCESSLOG names a file or "-".
accesslog = _env("ACCESSLOG", "") or None
access_log_format = (
    '{"remote": "%(h)s", "request": "%(m)s %(U)s", "status": %(s)s, "bytes": %(B)s, '
    '"duration_us": %(D)s, "request_id": "%({x-request-id}i)s", "agent": "%(a)s"}'
)
errorlog = _env("ERRORLOG", "-")
loglevel = _env("LOGLEVEL", "info")

# Prometheus metrics from every worker (prometheus-client's multiprocess mode): the directory must
# be set before a worker imports the app, and emptied when the server starts.
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="statsservice-metrics-")


def on_starting(server):
    """Start from zero: samples of a previous server's workers must not be added to ours."""
    path = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    for stale in path.glob("*.db"):
        stale.unlink()


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def post_worker_init(worker):
    """The app is loaded: move its objects out of the cyclic collector's sight (``gc.freeze``).
    A whole-hub answer builds tens of thousands of cells, and each full collection they triggered
    walked every object of the app as well: measured on a one-year threat series, about 0.1 s of
    a 0.32 s request went to those collections, and none with the app frozen."""
    import gc

    gc.freeze()
