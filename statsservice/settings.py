"""Built-in configuration defaults.

Order of precedence (later wins), as SPEC §8 describes:
this module, ``instance/config.py``, the file named by ``STATS_CONFIG``,
then ``STATSSERVICE_<KEY>`` environment variables (values parsed as JSON when they can be).
"""

MODE = "local"  # "local" (a hub next to MONARC instances) or "global" (the community hub)
INSTANCE_NAME = "statsservice"

# Database: None means SQLite under the instance folder.
SQLALCHEMY_DATABASE_URI: str | None = None
SQLALCHEMY_ENGINE_OPTIONS: dict = {}
# A pooled connection idle this long is pinged before use (statsservice.storage.pool): not in a
# burst of requests, always after a pause or a server restart; 0: at every checkout (pool_pre_ping)
DATABASE_PING_IDLE_SECONDS = 1.0
# Read replica (statsservice.storage.replica, docs/operations.md "Read replica"): a read-only copy
# (a PostgreSQL streaming standby) that serves the routes that only read: a client's records and
# processed answers, public JSON and pages. None: every query on the primary.
READ_DATABASE_URI: str | None = None
READ_DATABASE_ENGINE_OPTIONS: dict = {}  # beyond SQLALCHEMY_ENGINE_OPTIONS, for the replica only
READ_REPLICA_MAX_LAG_SECONDS = 10.0  # replay further behind than this: reads go to the primary
READ_REPLICA_CHECK_SECONDS = 5.0  # each process checks the replica's state at most this often
READ_REPLICA_CONNECT_TIMEOUT = 2  # seconds (at least 2: libpq's minimum); no answer: fallback

# HTTP
MAX_CONTENT_LENGTH = 16 * 1024 * 1024
MAX_BATCH_RECORDS = 20000  # records per POST /api/v1/stats/ (more: 413)
MIN_FO_VERSION = "2.10.2"
LAST_SEEN_INTERVAL_SECONDS = 60

# Rate limits (statsservice.api.ratelimit, Flask-Limiter): a client is counted by its API key,
# anyone else by its address; refused keys are counted per address and, once spent, lock that
# address out (429 with Retry-After) without touching any client's budget. "" turns one off.
RATELIMIT_ENABLED = True  # False for benchmarks (bench/load.py)
RATELIMIT_PER_CLIENT = "600 per minute"  # a Front Office's nightly upload is a handful of requests
RATELIMIT_PER_IP = "300 per minute"  # public pages and JSON (static files and probes are free)
RATELIMIT_AUTH_FAILURES = "10 per minute; 50 per hour"  # refused API keys per address
# memory:// counts per gunicorn worker; several workers or nodes share counters through
# "redis://host:6379" (pip install redis) or "memcached://host:11211" (pip install pymemcache)
RATELIMIT_STORAGE_URI = "memory://"
RATELIMIT_STRATEGY = "fixed-window"  # or "moving-window" (memory, redis), "sliding-window-counter"
RATELIMIT_KEY_PREFIX = "statsservice"  # several hubs on one redis: one prefix each
RATELIMIT_SWALLOW_ERRORS = True  # an unreachable redis/memcached lets requests through (logged)

# Federation (SPEC §7)
REMOTE_STATS_SERVER = ""
REMOTE_STATS_TOKEN = ""
# What may be released, upward and on every public or whole-hub answer (docs/PRIVACY.md): a cell
# needs FEDERATION_MIN_CLIENTS distinct organisations and FEDERATION_MIN_ANALYSES analyses, and
# no organisation may hold more than FEDERATION_DOMINANCE of its sum. A global hub applies its own
# values to what hubs push, and refuses weights above FEDERATION_MAX_WEIGHT.
FEDERATION_MIN_CLIENTS = 3
FEDERATION_MIN_ANALYSES = 3
FEDERATION_DOMINANCE = 0.85
FEDERATION_MAX_WEIGHT = 100_000
FEDERATION_STRIP_LABELS = False  # True: only knowledge-base uuids leave (no labels, no compliance)
FEDERATION_DELAY_DAYS = 2  # a day is released once, when this old (late uploads are in), never again
FEDERATION_BATCH_SIZE = 200
FEDERATION_WINDOW_DAYS = 90  # default window of stats_push: final days not released yet are sent
FEDERATION_RETRIES = 3  # per request, on connection errors and 429/5xx, with exponential backoff
FEDERATION_BACKOFF = 0.5
FEDERATION_TIMEOUT = 60
FEDERATION_PULL_DAYS = 365  # stats_pull fetches the community's day series of these last days
# Differential privacy (docs/PRIVACY.md): off by default (exact, k-anonymous releases of each day).
# FEDERATION_DP = True replaces the daily releases, on the public faces and upward, with a few
# coarse indicators per FEDERATION_DP_PERIOD ("month" or "week"): per type the top
# FEDERATION_DP_TOP objects (chosen by OpenDP's noisy top-k), their prevalence and mean metrics, the
# risk-level means, the cartography cells and the compliance maturity per referential, with Gaussian
# noise from OpenDP. Every organisation's contribution to a calendar year is protected at
# (FEDERATION_DP_YEAR_EPSILON, FEDERATION_DP_DELTA): one budget, accounted by OpenDP's composition
# over the ledger (`statsservice dp budget`); a release that would exceed it is refused.
FEDERATION_DP = False
FEDERATION_DP_YEAR_EPSILON = 4.0
FEDERATION_DP_DELTA = 1e-7
FEDERATION_DP_PERIOD = "month"
FEDERATION_DP_TOP = 20

# Cyber weather (stats_weather, docs/weather.md): weekly series of released cells, forecast
# WEATHER_HORIZON_WEEKS ahead (4-12) when at least WEATHER_MIN_HISTORY_WEEKS (>= 12) of history.
WEATHER_TOP_N = 10  # threats and vulnerabilities forecast: the most prevalent ones
WEATHER_HISTORY_WEEKS = 104  # weeks of history read (and shown)
WEATHER_HORIZON_WEEKS = 8
WEATHER_MIN_HISTORY_WEEKS = 12
WEATHER_BACKTEST_ORIGINS = 4  # rolling origins of the backtest (each refits every model)
WEATHER_WINDOW_WEEKS = 6  # recent weeks the warning test looks at

# Retention
PURGE_NB_MONTHS = 36

# Public pages and metrics
#: which knowledge-base label (label1..label4) the dashboard shows first in each page language
DASHBOARD_LABEL_FIELDS = {"en": "label1", "fr": "label2"}
#: cartography risk zones per risk kind, [low, high]: a risk value (impact x likelihood) up to low is
#: in the low zone, up to high in the medium zone, above high in the high zone; MONARC's defaults for a
#: new analysis (seuil1/seuil2 and seuilRolf1/seuilRolf2 = 4 and 8); set the community's usual ones
DASHBOARD_RISK_THRESHOLDS = {"informational": [4, 8], "operational": [4, 8]}
METRICS_ENABLED = True
METRICS_TOKEN = ""  # when set, /metrics wants "Authorization: Bearer <token>"
METRICS_ALLOWED_NETWORKS: list[str] = []  # CIDRs that may scrape /metrics; empty: any address
METRICS_DB_CACHE_SECONDS = 30  # a worker reuses the row counts it read for /metrics this long

# Reverse proxy: how many proxies in front set X-Forwarded-For/-Proto/-Host/-Port/-Prefix (0: trust none)
TRUSTED_PROXIES = 0

# Logging: one JSON line per request and per CLI run (statsservice.observability); never a token
LOG_LEVEL = "INFO"
LOG_FORMAT = "json"  # "json" or "text"
LOG_FILE = ""  # empty: standard error (the journal under systemd)
LOG_REQUESTS = True
LOG_CLI_RUNS = False  # production turns it on; off, an interactive command's stderr is only its error

SECRET_KEY: str | None = None  # generated into instance/secret_key on first run
