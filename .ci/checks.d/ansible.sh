#!/usr/bin/env bash
# The Ansible role (ansible/): ansible-lint (production profile) and --syntax-check of every
# playbook, then ansible/tests applies the role to this machine twice with `-c local` (the second
# run must change nothing) and runs the hub it installed, on the PostgreSQL of TEST_DATABASE_URL.
# Ansible lives in its own virtualenv (ansible/requirements.txt), cached between runs. The test
# also runs the nginx site the role renders with Debian's nginx binary, unpacked from its package
# into the same cache (never installed: no service starts, no port 80 is taken).
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${TEST_DATABASE_URL:?the loopback apply needs the PostgreSQL that .ci/run starts}"
VENV="${STATSSERVICE_ANSIBLE_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/statsservice-ci/ansible-venv}"
REQUIREMENTS=ansible/requirements.txt
if [ ! -x "$VENV/bin/ansible-lint" ] || ! cmp -s "$REQUIREMENTS" "$VENV/requirements.txt"; then
    rm -rf "$VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q --upgrade pip
    "$VENV/bin/pip" install -q -r "$REQUIREMENTS"
    cp "$REQUIREMENTS" "$VENV/requirements.txt"
fi
if ! command -v rsync >/dev/null; then  # ansible.posix.synchronize copies the checkout with it
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq rsync >/dev/null
fi
NGINX_ROOT="$(dirname "$VENV")/nginx-deb"
if [ ! -x "$NGINX_ROOT/usr/sbin/nginx" ]; then
    DEB_DIR="$(mktemp -d)"
    chmod 755 "$DEB_DIR"  # apt's download user writes there
    (cd "$DEB_DIR" && { apt-get download -qq nginx 2>/dev/null || { apt-get update -qq && apt-get download -qq nginx; }; })
    rm -rf "$NGINX_ROOT"
    dpkg-deb -x "$DEB_DIR"/nginx_*.deb "$NGINX_ROOT"
    rm -rf "$DEB_DIR"
fi
export PATH="$VENV/bin:$PATH" ANSIBLE_NOCOLOR=1 NGINX_BIN="$NGINX_ROOT/usr/sbin/nginx"

echo "--- syntax check"
(cd ansible && ansible-playbook --syntax-check -i inventory.example.yml site-local.yml site-global.yml tests/loopback.yml)
echo "--- ansible-lint"
(cd ansible && ansible-lint --nocolor site-local.yml site-global.yml tests/loopback.yml roles/statsservice)
echo "--- apply the role to this machine (ansible/tests)"
JUNIT=()  # under .ci/run, the loopback tests are counted one by one
if [ -n "${CI_PHASE:-}" ]; then JUNIT=(--junitxml="$CI_PHASE-apply.xml"); fi
ANSIBLE_PLAYBOOK="$VENV/bin/ansible-playbook" .venv/bin/pytest -q -p no:cacheprovider "${JUNIT[@]}" ansible/tests
