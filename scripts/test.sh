#!/usr/bin/env bash
# Sets up everything and runs the whole test suite twice (Swift Testing, including the openai SDK
# test): once on SQLite, once with every test gateway on PostgreSQL (a throwaway cluster started
# here and stopped at exit; each gateway gets a fresh database in it).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
log=$(mktemp)
if ! swift build --build-tests >"$log" 2>&1; then
  grep -E 'error|warning: unre' "$log" | head -100 || tail -100 "$log"
  echo "test: build failed (full log: $log)" >&2
  exit 1
fi
export AFTERIMAGE_SDK_PYTHON="$PWD/.venv/bin/python"
echo "test: pass 1 of 2 — SQLite"
swift test --skip-build

cluster=$(mktemp -d /tmp/afterimage-suite-pg.XXXXXX)
trap 'scripts/pg-cluster.sh stop "$cluster"' EXIT
AFTERIMAGE_TEST_DATABASE_URL=$(scripts/pg-cluster.sh start "$cluster")
export AFTERIMAGE_TEST_DATABASE_URL
echo "test: pass 2 of 2 — PostgreSQL ($AFTERIMAGE_TEST_DATABASE_URL)"
# Suites that never open a store (the lexicon, the cache-quality measurements) ran in pass 1.
swift test --skip-build --skip 'WordNetTests|CrossValidationTests|GeneratedPairsTests|HNSWGraphTests'

