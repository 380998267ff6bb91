#!/usr/bin/env bash
# Sets up everything and runs the whole test suite (Swift Testing, including the openai SDK test).
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
swift test --skip-build
