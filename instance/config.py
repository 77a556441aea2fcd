# Operator defaults for this hub (SPEC §8). Edit here, or point STATS_CONFIG at
# another file, or override any key with STATSSERVICE_<KEY> in the environment.
# Secrets (SECRET_KEY) are generated on first run
# into files beside this one and are git-ignored.

MODE = "local"
INSTANCE_NAME = "statsservice"

# SQLite under this folder by default; for production use PostgreSQL, e.g.
# SQLALCHEMY_DATABASE_URI = "postgresql+psycopg://statsservice:PASSWORD@127.0.0.1/statsservice"

MAX_CONTENT_LENGTH = 16 * 1024 * 1024
FEDERATION_MIN_CLIENTS = 3  # what may be released: docs/PRIVACY.md
FEDERATION_MIN_ANALYSES = 3
