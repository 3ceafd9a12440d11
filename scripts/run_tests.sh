#!/usr/bin/env bash
# The test loop: the whole suite on the embedded defaults (SQLite + filesystem broker), then again on
# PostgreSQL + Redis when they are reachable. In CI both runs are mandatory.
set -uo pipefail
cd "$(dirname "$0")/.."
PYTEST=(.venv/bin/python -m pytest)
PG_URL=${OEM_TEST_POSTGRES_URL:-postgresql://postgres@127.0.0.1:5432/oem}
REDIS_URL=${OEM_TEST_REDIS_URL:-redis://127.0.0.1:6379/15}

run_suite() {
  local label=$1; shift
  echo "=== pytest on ${label} ==="
  env "$@" "${PYTEST[@]}" -q "${PYTEST_ARGS[@]}"
  local rc=$?
  if [ $rc -eq 5 ]; then
    echo "error: pytest collected no tests on ${label}: refusing to call that a pass" >&2
    return 1
  fi
  if [ $rc -ne 0 ]; then echo "error: pytest failed on ${label} (exit ${rc})" >&2; fi
  return $rc
}

reachable() { # host port
  .venv/bin/python - "$1" "$2" <<'PY'
import socket, sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=2).close()
except OSError:
    sys.exit(1)
PY
}

PYTEST_ARGS=("$@")
started=$(date +%s)
run_suite "SQLite + filesystem broker" DATABASE_URL= CELERY_BROKER_URL= || exit 1

if reachable 127.0.0.1 5432 && reachable 127.0.0.1 6379; then
  run_suite "PostgreSQL + Redis" DATABASE_URL="$PG_URL" CELERY_BROKER_URL="$REDIS_URL" || exit 1
elif [ "${CI:-}" = "true" ]; then
  echo "error: CI needs PostgreSQL (127.0.0.1:5432) and Redis (127.0.0.1:6379); one is unreachable" >&2
  exit 1
else
  echo "note: PostgreSQL or Redis unreachable here; skipped the second run (CI runs it)"
fi
echo "make test wall time: $(( $(date +%s) - started )) s"
