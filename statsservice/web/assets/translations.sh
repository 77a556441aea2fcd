#!/usr/bin/env bash
# Refresh the dashboard's message catalogs: extract the texts of statsservice/web, merge them into
# every language's .po (add a language with: pybabel init -l LANG ...), then compile the .mo files
# the app loads. Translate the new entries in translations/<lang>/LC_MESSAGES/messages.po, rerun.
set -euo pipefail
cd "$(dirname "$0")/../../.."
bin="${VENV:-.venv}/bin"
web=statsservice/web
"$bin/pybabel" extract -F "$web/assets/babel.cfg" -k _l --no-location --sort-output \
    --project statsservice -o "$web/translations/messages.pot" .
"$bin/pybabel" update -N --ignore-obsolete -i "$web/translations/messages.pot" -d "$web/translations"
"$bin/pybabel" compile --statistics -d "$web/translations"
