#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages bsn builds against, if any is missing.
set -euo pipefail
packages=(libopenblas-dev libreadline-dev libpng-dev libjpeg62-turbo-dev pkg-config)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing: ${missing[*]}" >&2
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
$sudo apt-get update -qq
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
