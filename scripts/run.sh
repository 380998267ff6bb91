#!/usr/bin/env bash
# Sets up, builds in release mode and starts the server with Config/afterimage.yaml.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
log=$(mktemp)
if ! swift build -c release --product afterimage >"$log" 2>&1; then
  grep -E 'error' "$log" | head -100 || tail -100 "$log"
  echo "run: release build failed (full log: $log)" >&2
  exit 1
fi
export AFTERIMAGE_CONFIG="${AFTERIMAGE_CONFIG:-Config/afterimage.yaml}"
exec .build/release/afterimage serve
