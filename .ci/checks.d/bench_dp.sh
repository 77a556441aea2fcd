#!/usr/bin/env bash
# make bench-dp at its smoke size (5 organisations, 2 monthly releases, one draw): the benchmark of
# differential-privacy mode runs end to end and prints its table (figures: docs/PRIVACY.md).
set -euo pipefail
cd "$(dirname "$0")/../.."
out="$(make -s bench-dp DP_ARGS=--smoke)"
printf '%s\n' "$out" | grep -v '^{"ts"'
printf '%s\n' "$out" | grep -q '^| threat | prevalence | '
