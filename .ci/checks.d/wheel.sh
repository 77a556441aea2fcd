#!/usr/bin/env bash
# The hub as an operator installs it: build the wheel, install it into a fresh virtualenv outside
# the checkout, then, from an empty folder, `statsservice db upgrade`, `statsservice client_create`
# and `statsservice run` until /readyz answers "ready". Nothing from the source tree is used after
# the build (no PYTHONPATH, no STATS_INSTANCE_PATH: the instance folder is Flask's default).
# Last line: "N passed, M failed"; exit status 0 only when nothing failed.
set -uo pipefail
cd "$(dirname "$0")/../.."
SRC="$PWD"
PYTHON="${PYTHON:-python3}"
WORK="$(mktemp -d /tmp/statsservice-wheel.XXXXXX)"
SERVER=""
cleanup() {
    if [ -n "$SERVER" ]; then
        kill "$SERVER" 2>/dev/null || true
        wait "$SERVER" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

# the installed hub is configured by its environment only, and sees nothing of the checkout
for name in $(env | sed -n 's/^\(STATSSERVICE_[A-Za-z0-9_]*\)=.*/\1/p'); do unset "$name"; done
unset STATS_CONFIG STATS_INSTANCE_PATH FLASK_APP PYTHONPATH VIRTUAL_ENV

passed=0
failed=0
check() {  # check "description" command...: run it, log its output, count the outcome
    local what="$1"
    shift
    if "$@" >"$WORK/last.log" 2>&1; then
        passed=$((passed + 1))
        echo "ok   $what"
    else
        failed=$((failed + 1))
        echo "FAIL $what"
        sed 's/^/     /' "$WORK/last.log" | tail -n 40
    fi
}

V="$WORK/venv/bin"
RUN="$WORK/empty"
mkdir -p "$RUN"

build() { "$PYTHON" -m pip wheel -q --no-deps -w "$WORK/dist" "$SRC"; }
wheel_has_migrations() {
    "$PYTHON" - "$WORK"/dist/statsservice-*.whl <<'PY'
import sys, zipfile
names = zipfile.ZipFile(sys.argv[1]).namelist()
wanted = ["statsservice/migrations/env.py", "statsservice/migrations/alembic.ini",
          "statsservice/migrations/script.py.mako", "statsservice/migrations/versions/0001_initial_schema.py"]
missing = [name for name in wanted if name not in names]
assert not missing, f"missing from the wheel: {missing}"
assert any(n.endswith("entry_points.txt") for n in names), "no entry points"
PY
}
install() {
    "$PYTHON" -m venv "$WORK/venv" && "$V/pip" install -q "$WORK"/dist/statsservice-*.whl
}
imports_installed_copy() {
    cd "$RUN" && "$V/python" -c "
import sys, statsservice
assert statsservice.__file__.startswith(sys.prefix), statsservice.__file__
"
}
no_dev_tools() {  # the wheel's dependencies are the runtime ones: no test tool comes with it
    for tool in pytest hypothesis ruff schemathesis playwright locust; do
        if "$V/pip" show -q "$tool" >/dev/null 2>&1; then echo "$tool installed"; return 1; fi
    done
}
upgrade() { cd "$RUN" && "$V/statsservice" db upgrade; }
create_client() {
    cd "$RUN" && "$V/statsservice" client_create --name wheel-check >"$WORK/client.txt" \
        && grep -q '^Token: ' "$WORK/client.txt" \
        && "$V/statsservice" client_list | grep -q wheel-check
}
flask_app_option() { cd "$RUN" && "$V/flask" --app statsservice client_list | grep -q wheel-check; }
serve() {
    local port
    port="$("$V/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    cd "$RUN" && "$V/statsservice" run --port "$port" >"$WORK/server.log" 2>&1 &
    SERVER=$!
    for _ in $(seq 1 150); do
        if "$V/python" - "http://127.0.0.1:$port/readyz" <<'PY' 2>/dev/null; then
import json, sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=2) as response:
    body = json.load(response)
assert response.status == 200 and body["status"] == "ready", body
PY
            return 0
        fi
        kill -0 "$SERVER" 2>/dev/null || break
        sleep 0.2
    done
    cat "$WORK/server.log"
    return 1
}
instance_outside_checkout() {  # the database and secret went to the venv's instance folder
    test -f "$WORK/venv/var/statsservice-instance/statsservice.db" \
        && test -z "$(ls -A "$RUN")"
}

checkout_upgrade() {  # a checkout migrates from the top-level migrations/ (Flask-Migrate's layout)
    local scratch="$WORK/checkout-instance"
    mkdir -p "$scratch"
    (cd "$SRC" && STATS_INSTANCE_PATH="$scratch" \
        STATSSERVICE_SQLALCHEMY_DATABASE_URI="sqlite:///$scratch/checkout.db" \
        "$SRC/.venv/bin/flask" --app statsservice db upgrade) && test -f "$scratch/checkout.db"
}

check "flask db upgrade in the checkout migrates from migrations/" checkout_upgrade
check "pip wheel builds" build
check "the wheel holds the migrations and the console script" wheel_has_migrations
check "the wheel installs into a fresh virtualenv" install
check "the installed copy is the one imported" imports_installed_copy
check "no development tool is installed with the wheel" no_dev_tools
check "statsservice db upgrade migrates an empty database" upgrade
check "statsservice client_create creates a client" create_client
check "flask --app statsservice still works" flask_app_option
check "statsservice run serves /readyz as ready" serve
check "the instance folder is the venv's, not the checkout or the working folder" instance_outside_checkout
echo "$passed passed, $failed failed"
if [ -n "${CI_PHASE:-}" ]; then echo "$passed passed, $failed failed" >"$CI_PHASE.counts"; fi  # .ci/total.py
[ "$failed" -eq 0 ]
