#!/usr/bin/env bash
# The gallery's JupyterLab screenshot (docs/gallery/jupyterlab-quickstart.png):
# executes samples/quickstart.ipynb with the bsn kernel, opens it in
# JupyterLab, and photographs the page with headless Chromium (Debian:
# apt-get install chromium). The long tables of the first cells are folded,
# so that the training cell's live display and the pictures are on screen.
# Needs: a release build, the kernel installed (README), jupyterlab (pip).
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-docs/gallery/jupyterlab-quickstart.png}"
work="$(mktemp -d)"
notebooks="$work/notebooks"
mkdir -p "$notebooks" "$work/settings/@jupyterlab/apputils-extension"
# No "Would you like to get notified about Jupyter news?" over the picture.
echo '{"fetchNews": "false"}' >"$work/settings/@jupyterlab/apputils-extension/notification.jupyterlab-settings"
port=8899
cleanup() { [ -n "${lab:-}" ] && kill "$lab" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

cp samples/quickstart.ipynb "$notebooks/"
(cd "$notebooks" && jupyter nbconvert --to notebook --execute --inplace --ExecutePreprocessor.timeout=900 quickstart.ipynb)
# Fold the outputs of the cells before training (data, summary), keep the rest open.
python3 - "$notebooks/quickstart.ipynb" <<'PY'
import sys, nbformat
path = sys.argv[1]
nb = nbformat.read(path, as_version=4)
for cell in nb.cells:
    if cell.cell_type == "markdown":
        continue
    if cell.source.startswith("train"):
        break
    cell.metadata["jupyter"] = {"outputs_hidden": True}
nbformat.write(nb, path)
PY
JUPYTERLAB_SETTINGS_DIR="$work/settings" jupyter lab --no-browser --port "$port" --ServerApp.root_dir="$notebooks" --IdentityProvider.token=bsn \
  --LabApp.news_url=None --ServerApp.allow_root=True >"$work/lab.log" 2>&1 &
lab=$!
for _ in $(seq 1 60); do
  curl -fs "http://127.0.0.1:$port/api/status?token=bsn" >/dev/null && break
  sleep 0.5
done
chromium --headless=new --no-sandbox --disable-gpu --hide-scrollbars --window-size=1400,1900 \
  --virtual-time-budget=30000 --screenshot="$out" "http://127.0.0.1:$port/lab/tree/quickstart.ipynb?token=bsn" 2>/dev/null
echo "wrote $out"
