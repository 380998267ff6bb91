#!/usr/bin/env bash
# Sets up everything and runs the whole test suite (Swift Testing, including the openai SDK test):
# on SQLite, then the CPU-bound cache-quality suites on their own, then once more with every test
# gateway on PostgreSQL (a throwaway cluster started here and stopped at exit; each gateway gets a
# fresh database in it).
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
# Suites that only compute (the lexicon, cache quality on the labelled pairs, the graph index, the
# encoder in both precisions and its kernels, the lock and queue stress tests) and keep both cores
# busy, and the 100 × 50 MB upload test that saturates the disk: run apart, so the timing-bound
# server and PostgreSQL suites do not starve.
quality='WordNetTests|CrossValidationTests|GeneratedPairsTests|HNSWGraphTests|CacheEvalAgreementTests|MiniLMFidelityTests|KernelTests|ReadWriteLockTests|BatchedWriterTests|LargeUploadTests'
# One PostgreSQL server for the whole run: in pass 1 the tests that need PostgreSQL (replicas, crash
# safety, migration) each take a fresh database on it; in pass 3 every test gateway does.
cluster=$(mktemp -d /tmp/afterimage-suite-pg.XXXXXX)
trap 'scripts/pg-cluster.sh stop "$cluster"' EXIT
AFTERIMAGE_TEST_POSTGRES_SERVER=$(scripts/pg-cluster.sh start "$cluster")
export AFTERIMAGE_TEST_POSTGRES_SERVER
echo "test: pass 1 of 3 — SQLite"
swift test --skip-build --skip "$quality"
echo "test: pass 2 of 3 — heavy suites on their own (cache quality, lexicon, graph index, encoder, large uploads)"
swift test --skip-build --filter "$quality"

AFTERIMAGE_TEST_DATABASE_URL=$AFTERIMAGE_TEST_POSTGRES_SERVER
export AFTERIMAGE_TEST_DATABASE_URL
echo "test: pass 3 of 3 — PostgreSQL ($AFTERIMAGE_TEST_DATABASE_URL)"
# The quality suites never open a store (or, for the eval/server agreement, do not depend on it).
swift test --skip-build --skip "$quality"
