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

# Retention
PURGE_NB_MONTHS = 36

# Public pages and metrics
METRICS_ENABLED = True

SECRET_KEY: str | None = None  # generated into instance/secret_key on first run
