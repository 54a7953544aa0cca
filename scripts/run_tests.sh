#!/usr/bin/env bash
# Start a throwaway PostgreSQL (as an unprivileged user), run the whole suite on both backends
# across two workers, and throw the server away whatever the outcome.
set -euo pipefail
python="${1:-.venv/bin/python}"
shift || true
folder="$(mktemp -d /tmp/valueproof-pg.XXXXXX)"
url="$("$python" scripts/throwaway_postgres.py start "$folder")"
trap '"$python" scripts/throwaway_postgres.py stop "$folder" >/dev/null 2>&1 || true; rm -rf "$folder"' EXIT
export VALUEPROOF_TEST_POSTGRES_URL="$url"
"$python" -m pytest -n 2 "$@"
