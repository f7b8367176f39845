#!/usr/bin/env bash
# Builds the npm package into pkg/: wasm-pack (web target, server feature off), then
# scripts/finish-pkg.mjs (the guarded entry and the declarations' fixes).
set -euo pipefail
cd "$(dirname "$0")/.."
wasm-pack build --target web --profile wasm-release --no-opt -- --no-default-features
node scripts/finish-pkg.mjs pkg
# The server embeds pkg/ (build.rs watches its files only once they exist).
touch build.rs
