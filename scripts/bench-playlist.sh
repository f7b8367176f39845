#!/usr/bin/env bash
# Playlist benchmarks (on demand, not part of the tests). Uses the anchor's playlist
# generator (../shared/anchors/gen-playlist.py: 43,200 two-second segments, 2.2 MB) and
# prints, measured in the same run:
#   - Node: liverec's npm package parse+write vs hls-parser 0.16.1 parse+stringify (target >= 5x)
#   - native: liverec's parser vs m3u8-rs 6.0.1 (target >= 7x)
# Env: WORK (default /tmp/liverec-bench), RUNS (default 20). Needs pkg/ (scripts/test-all.sh builds it).
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=${WORK:-/tmp/liverec-bench}
RUNS=${RUNS:-20}
mkdir -p "$WORK/playlists" "$WORK/js"
python3 ../shared/anchors/gen-playlist.py "$WORK/playlists" >/dev/null
if [ ! -d "$WORK/js/node_modules/hls-parser" ]; then
  (cd "$WORK/js" && npm init -y >/dev/null && npm install --no-audit --no-fund hls-parser@0.16.1 >/dev/null 2>&1)
fi
[ -f pkg/liverec_bg.wasm ] || wasm-pack build --target web --profile wasm-release --no-opt -- --no-default-features
node scripts/bench-playlist.mjs "$WORK/playlists/big.m3u8" "$WORK/js" "$RUNS"
cargo bench --quiet --bench playlist -- "$WORK/playlists/big.m3u8" "$RUNS"
