#!/usr/bin/env bash
# Builds the npm package into pkg/: wasm-pack (web target, server feature off), then
# scripts/finish-pkg.mjs (the guarded entry and the declarations' fixes); then the clip
# export module (feature clip-export, out-name liverec_export), copied beside the core
# as liverec_export.js + liverec_export_bg.wasm and finished the same way.
set -euo pipefail
cd "$(dirname "$0")/.."
wasm-pack build --target web --profile wasm-release --no-opt -- --no-default-features
node scripts/finish-pkg.mjs pkg
wasm-pack build --target web --profile wasm-export --no-opt --out-dir target/pkg-export \
  --out-name liverec_export -- --no-default-features --features clip-export
for f in liverec_export.js liverec_export_bg.wasm liverec_export.d.ts liverec_export_bg.wasm.d.ts; do
  cp "target/pkg-export/$f" pkg/
done
node scripts/finish-pkg.mjs pkg liverec_export
# The server embeds pkg/ (build.rs watches its files only once they exist).
touch build.rs
