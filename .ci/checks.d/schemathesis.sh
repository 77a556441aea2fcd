#!/usr/bin/env bash
# Fuzz API v1 with schemathesis on a live hub: no 5xx, no status, content type or body outside
# /api/v1/openapi.json, no schema-violating request accepted, no valid one refused.
# A fresh SQLite database, gunicorn on loopback, a Front Office client made with
# contrib/create_client.sh and an admin made with the CLI; a bounded, seeded number of examples.
# SCHEMATHESIS_EXAMPLES (default 100, about a minute and a half on 2 cores) sets the examples per
# operation and per client (the coverage phase adds its own boundary cases),
# SCHEMATHESIS_SEED the seed; SCHEMATHESIS_DATABASE_URL an empty database to use instead of SQLite.
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN="$PWD/.venv/bin"
EXAMPLES="${SCHEMATHESIS_EXAMPLES:-100}"
WORK="$(mktemp -d /tmp/statsservice-schemathesis.XXXXXX)"
PORT="$("$BIN/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
URL="http://127.0.0.1:$PORT"

# this hub is configured by its environment only
for name in $(env | sed -n 's/^\(STATSSERVICE_[A-Za-z0-9_]*\)=.*/\1/p'); do unset "$name"; done
unset STATS_CONFIG
export STATS_INSTANCE_PATH="$WORK/instance"
export STATSSERVICE_SQLALCHEMY_DATABASE_URI="${SCHEMATHESIS_DATABASE_URL:-sqlite:///$WORK/hub.db}"
# The rate limiter stays on (its code runs on every request) with budgets the fuzzer cannot spend:
# a 429 would only hide what the fuzzer is after. tests/test_security_ratelimit.py covers the limits.
export STATSSERVICE_RATELIMIT_PER_CLIENT="1000000 per minute"
export STATSSERVICE_RATELIMIT_PER_IP="1000000 per minute"
export STATSSERVICE_RATELIMIT_AUTH_FAILURES="1000000 per minute"

token_of() { sed -n 's/^Token: //p'; }
FO_TOKEN="$(contrib/create_client.sh schemathesis-fo | token_of)"
ADMIN_TOKEN="$("$BIN/flask" --app statsservice client_create --name schemathesis-admin --role admin | token_of)"
[ -n "$FO_TOKEN" ] && [ -n "$ADMIN_TOKEN" ]

# --limit-request-line 0: the hub, not gunicorn's 4 KiB request line, answers long query strings
"$BIN/gunicorn" --bind "127.0.0.1:$PORT" --workers 2 --limit-request-line 0 'statsservice:create_app()' \
    >"$WORK/gunicorn.log" 2>&1 &
PID=$!
cleanup() {
    kill "$PID" 2>/dev/null || true
    wait "$PID" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
for _ in $(seq 1 100); do
    if "$BIN/python" -c "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)" "$URL/readyz" 2>/dev/null; then
        break
    fi
    kill -0 "$PID" 2>/dev/null || { cat "$WORK/gunicorn.log"; exit 1; }
    sleep 0.2
done

status=0
for who in fo admin; do
    if [ "$who" = fo ]; then token="$FO_TOKEN"; else token="$ADMIN_TOKEN"; fi
    echo "--- schemathesis as the $who client"
    report=()  # under .ci/run, one test per operation and client (JUnit)
    if [ -n "${CI_PHASE:-}" ]; then report=(--report junit --report-junit-path "$CI_PHASE-$who.xml"); fi
    "$BIN/schemathesis" --config-file .ci/checks.d/schemathesis.toml --no-color run "$URL/api/v1/openapi.json" \
        --header "X-API-KEY: $token" --max-examples "$EXAMPLES" --seed "${SCHEMATHESIS_SEED:-20260101}" \
        --workers 1 --request-timeout 60 "${report[@]}" || status=1
done
if grep -q "Traceback" "$WORK/gunicorn.log"; then
    echo "the hub logged an exception:" && grep -B2 -A30 "Traceback" "$WORK/gunicorn.log" | head -80
    status=1
fi
exit "$status"
