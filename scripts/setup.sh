#!/usr/bin/env bash
# Installs what Afterimage needs on a Debian machine; idempotent and quiet when nothing is missing.
#   scripts/setup.sh          system packages and the MiniLM model files (enough to build and run)
#   scripts/setup.sh --test   also Chromium and the Python venv with the openai SDK used by the tests
set -euo pipefail
cd "$(dirname "$0")/.."

# wordnet-base: the WordNet database the cache's false-hit guard reads (/usr/share/wordnet).
packages=(libsqlite3-dev libcurl4-openssl-dev libblas-dev libopenblas0-pthread python3-venv wordnet-base)
# The built-in dashboard's browser test renders the page in headless Chromium.
# The postgres backend's tests start a throwaway cluster of their own (scripts/pg-cluster.sh).
[ "${1:-}" = "--test" ] && packages+=(chromium postgresql)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  # RUNLEVEL=1: packages (postgresql) install without starting a system-wide service.
  DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# The default embedder's model files (verified against scripts/minilm.sha256).
scripts/fetch-model.sh

if [ "${1:-}" = "--test" ]; then
  # The openai SDK (OpenAISDKTests) and schemathesis (ContractTests), pinned in requirements.txt.
  if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c "import openai, schemathesis" 2>/dev/null; then
    echo "setup: creating .venv with the openai SDK and schemathesis"
    [ -x .venv/bin/python ] || python3 -m venv .venv
    .venv/bin/pip install -q --disable-pip-version-check -r Tests/sdk/requirements.txt
  fi
fi
