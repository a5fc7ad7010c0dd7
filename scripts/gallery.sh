#!/bin/sh
# Regenerates docs/gallery/*.png from the embedded data (see docs/gallery/gallery.bsn).
# Sessions go to a temporary folder so the gallery does not touch sessions/.
set -e
cd "$(dirname "$0")/.."
swift build -c release
export BSN_SESSIONS="${TMPDIR:-/tmp}/bsn-gallery-sessions"
rm -rf "$BSN_SESSIONS"
.build/release/bsn run docs/gallery/gallery.bsn --session gallery-cnf
