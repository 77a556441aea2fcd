#!/usr/bin/env bash
# Every make target a user may type, at a smoke size, so that a renamed helper or option breaks
# CI rather than someone's first try: run (until /readyz answers), serve (gunicorn, likewise),
# migrate, demo, the stats_export of its data (Parquet and CSV), bench, bench-scale-out, bench-dp, bench-weather,
# bench-global, bench-fo and load with tiny arguments, and faults collected (its tests run in the suite itself). lint
# and test are phases of .ci/run; clean is only dry-run (it would remove this virtualenv). Each
# step is bounded by `timeout`; the whole check takes about two minutes on two cores.
# Last line: "N passed, M failed"; exit status 0 only when nothing failed.
set -uo pipefail
cd "$(dirname "$0")/../.."
WORK="$(mktemp -d /tmp/statsservice-make.XXXXXX)"
export WORK
stop_server() {  # a server runs in a session of its own (its pid in $WORK/server.pid): end its group
    local pid
    pid="$(cat "$WORK/server.pid" 2>/dev/null)" || return 0
    kill -TERM -- "-$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$pid" 2>/dev/null || true
    rm -f "$WORK/server.pid"
}
cleanup() { stop_server; rm -rf "$WORK"; }
trap cleanup EXIT

# the targets run as a user runs them: configured by nothing but a scratch instance folder
for name in $(env | sed -n 's/^\(STATSSERVICE_[A-Za-z0-9_]*\)=.*/\1/p'); do unset "$name"; done
unset STATS_CONFIG FLASK_APP
export STATS_INSTANCE_PATH="$WORK/instance"
# a bench that needs an old revision (BENCH_BASELINE) measures this checkout only here
export BENCH_BASELINE=

passed=0
failed=0
check() {  # check "description" seconds command...: run it bounded (a function of this script too), count it
    local what="$1" limit="$2"
    shift 2
    local started=$SECONDS
    if timeout -k 10 "$limit" bash -c '"$@"' check "$@" >"$WORK/last.log" 2>&1; then
        passed=$((passed + 1))
        echo "ok   $what ($((SECONDS - started)) s)"
    else
        failed=$((failed + 1))
        echo "FAIL $what ($((SECONDS - started)) s)"
        sed 's/^/     /' "$WORK/last.log" | tail -n 40
    fi
}

free_port() { .venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
ready() {  # ready URL: /readyz answers 200 with "ready"
    .venv/bin/python - "$1" <<'PY' 2>/dev/null
import json, sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=2) as response:
    assert response.status == 200 and json.load(response)["status"] == "ready"
PY
}
serves() {  # serves LOG COMMAND...: start COMMAND in its own session, wait for /readyz, stop it
    local log="$1" port
    shift
    port="$(free_port)"
    setsid "$@" HOST=127.0.0.1 PORT="$port" >"$log" 2>&1 &
    local pid=$!
    echo "$pid" >"$WORK/server.pid"
    for _ in $(seq 1 300); do
        if ready "http://127.0.0.1:$port/readyz"; then
            stop_server
            return 0
        fi
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.2
    done
    stop_server
    cat "$log"
    return 1
}
demo_filled() {
    make demo DEMO_ARGS="--analyses 2 --days 3" && .venv/bin/statsservice stats_list_last | grep -q "Demo client"
}
exported() {  # stats_export of the demo, as docs/operations.md shows it, in both formats
    .venv/bin/statsservice stats_export --out "$WORK/lake" --partition-by type,month &&
        ls "$WORK"/lake/type=threat/*/*.parquet >/dev/null &&
        .venv/bin/statsservice stats_export --out "$WORK/csv" --format csv &&
        ls "$WORK"/csv/type=risk/*/*.csv >/dev/null
}
faults_collected() {  # the test files `make faults` names exist and collect
    make faults FAULTS_ARGS=--collect-only | tee /dev/stderr | grep -Eq "^[0-9]+ tests? collected"
}
clean_dry_run() { make -n clean | grep -q "rm -rf"; }
export -f stop_server free_port ready serves demo_filled exported faults_collected clean_dry_run

check "make migrate" 120 make migrate
check "make run serves /readyz" 120 serves "$WORK/run.log" make run
stop_server  # in case the check's time ran out
check "make serve (gunicorn) serves /readyz" 120 serves "$WORK/serve.log" env GUNICORN_WORKERS=1 make serve
stop_server
check "make demo fills the hub" 120 demo_filled
check "statsservice stats_export writes Parquet and CSV" 60 exported
check "make bench (one size of 2 analyses x 2 days)" 240 \
    make bench BENCH_ARGS="--sizes 2x2 --repeat 1 --results $WORK/bench-results"
check "make bench-scale-out (4x2, 20 requests)" 240 make bench-scale-out SCALE_OUT_ARGS="--size 4x2 --auth-requests 20"
check "make bench-dp (smoke: 5 organisations, 2 months, 1 draw)" 180 make bench-dp DP_ARGS=--smoke
check "make load (3 Front Offices, 1 reader, 1 night)" 240 \
    make load LOAD_ARGS="--front-offices 3 --readers 1 --nights 1 --max-analyses 2"
check "make bench-weather (smoke)" 180 make bench-weather WEATHER_ARGS=--smoke
check "make bench-global (smoke: 20 hubs, 3 of them x 14 days)" 180 make bench-global GLOBAL_ARGS=--smoke
check "make bench-fo (smoke: 30 analyses x 4 days, no baseline)" 240 make bench-fo FO_ARGS=--smoke FO_BASELINE=
check "make faults: its test files collect" 120 faults_collected
check "make clean (dry run)" 30 clean_dry_run
echo "$passed passed, $failed failed"
if [ -n "${CI_PHASE:-}" ]; then echo "$passed passed, $failed failed" >"$CI_PHASE.counts"; fi  # .ci/total.py
[ "$failed" -eq 0 ]
