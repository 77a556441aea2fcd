#!/usr/bin/env bash
# Redis server binary: the scale-out test (tests/test_ops_scale_out.py) starts its own redis-server
# on loopback for the rate-limit counters that several app nodes share.
set -euo pipefail
if ! command -v redis-server >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq redis-server >/dev/null
fi
redis-server --version
