#!/usr/bin/env bash
# Create a client and print its UUID, name, role, token and creation time (SPEC §2).
# Usage (from the repository root): contrib/create_client.sh NAME [TOKEN]
# Honours STATS_CONFIG and STATSSERVICE_* like the hub itself.
set -euo pipefail
if [ $# -lt 1 ] || [ $# -gt 2 ] || [ -z "$1" ]; then
    echo "usage: $0 NAME [TOKEN]" >&2
    exit 2
fi
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
flask="$root/.venv/bin/flask"
if [ ! -x "$flask" ]; then
    echo "error: $root/.venv is missing; run 'make install' first" >&2
    exit 1
fi
cd "$root"
# Bring the schema up to date first (a no-op when it already is); its log goes to stderr only.
"$flask" --app statsservice db upgrade >/dev/null 2>&1 || {
    echo "error: could not migrate the database (run 'make migrate' to see why)" >&2
    exit 1
}
args=(client_create --name "$1")
if [ $# -eq 2 ]; then
    args+=(--token "$2")
fi
exec "$flask" --app statsservice "${args[@]}"
