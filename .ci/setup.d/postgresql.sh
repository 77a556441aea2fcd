#!/usr/bin/env bash
# PostgreSQL server binaries: the suite's second run uses a private cluster, and fault tests
# start (and restart) clusters of their own in both runs.
set -euo pipefail
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq postgresql >/dev/null
fi
ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1
