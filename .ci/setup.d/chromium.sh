#!/usr/bin/env bash
# The dashboard's browser tests drive Debian's Chromium through Playwright (Python, from the dev
# extras). Playwright never downloads a browser of its own: the tests launch /usr/bin/chromium.
set -euo pipefail
if [ ! -x /usr/bin/chromium ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq chromium >/dev/null
fi
/usr/bin/chromium --version
