"""Built-in configuration defaults.

Order of precedence (later wins), as SPEC §8 describes:
this module, ``instance/config.py``, the file named by ``STATS_CONFIG``,
then ``STATSSERVICE_<KEY>`` environment variables (values parsed as JSON when they can be).
"""

MODE = "local"  # "local" (a hub next to MONARC instances) or "global" (the community hub)
INSTANCE_NAME = "statsservice"

# Database: None means SQLite under the instance folder.
SQLALCHEMY_DATABASE_URI: str | None = None
SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}

# HTTP
MAX_CONTENT_LENGTH = 16 * 1024 * 1024
MIN_FO_VERSION = "2.10.2"
LAST_SEEN_INTERVAL_SECONDS = 60

# Federation (SPEC §7)
REMOTE_STATS_SERVER = ""
REMOTE_STATS_TOKEN = ""
FEDERATION_MIN_ANALYSES = 3
FEDERATION_STRIP_LABELS = False
FEDERATION_BATCH_SIZE = 200
FEDERATION_WINDOW_DAYS = 90  # default window of stats_push (re-collected days are re-sent)
FEDERATION_RETRIES = 3  # per request, on connection errors and 429/5xx, with exponential backoff
FEDERATION_BACKOFF = 0.5
FEDERATION_TIMEOUT = 60
FEDERATION_PULL_PERIOD = "month"  # aggregation_period of the community series stats_pull fetches
FEDERATION_PULL_DAYS = 365

# Retention
PURGE_NB_MONTHS = 36

# Public pages and metrics
METRICS_ENABLED = True

SECRET_KEY: str | None = None  # generated into instance/secret_key on first run
