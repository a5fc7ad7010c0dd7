#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages bsn builds against, if any is missing;
# with --tests, also what the test suite compares against (ONNX Runtime, pip).
set -euo pipefail
packages=(libopenblas-dev libreadline-dev libpng-dev libjpeg62-turbo-dev pkg-config libopenmpi-dev openmpi-bin)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}" >&2
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi
# The test suite checks ONNX export against ONNX Runtime, image decoding
# against Pillow, event files against TensorBoard's reader, and the Jupyter
# kernel through Jupyter's own client and nbclient (Python; bsn itself needs none).
if [ "${1:-}" = "--tests" ] && ! python3 -c "import onnxruntime, onnx, numpy, PIL, tensorboard, jupyter_client, nbclient, ipykernel, nbformat" >/dev/null 2>&1; then
  echo "installing for the tests: onnxruntime onnx numpy pillow tensorboard jupyter_client nbclient ipykernel nbformat (pip)" >&2
  python3 -m pip install --quiet --disable-pip-version-check onnxruntime onnx numpy pillow tensorboard jupyter_client nbclient ipykernel nbformat
fi
