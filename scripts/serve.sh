#!/usr/bin/env bash
# README's first command: the server with embedded defaults (data in ./liverec-data,
# SQLite + local disk, loopback ports) and its whole web console. On a fresh machine it
# first installs what the console's build needs (scripts/install.sh: Node and npm from
# apt, the wasm32 target, wasm-bindgen-cli and wasm-pack), fetches the players (npm ci in
# www/) and builds the npm package (scripts/build-pkg.sh) — each only when missing or
# out of date — then runs `cargo run --release -- serve` with the arguments given.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
shared="$root/../shared"
export PATH="$HOME/.cargo/bin:$PATH"
# shellcheck source=scripts/install.sh
source "$root/scripts/install.sh"

install_serve_packages
if [ ! -d www/node_modules/hls.js ] || [ www/package-lock.json -nt www/node_modules ]; then
  step "npm ci in www/ (hls.js and mpegts.js, the console's players)"
  (cd www && npm ci --no-audit --no-fund)
fi
if [ ! -f pkg/liverec_export_bg.wasm ] || [ -n "$(find src Cargo.toml Cargo.lock scripts/build-pkg.sh scripts/finish-pkg.mjs -newer pkg/liverec_export_bg.wasm -print -quit)" ]; then
  install_wasm_tools
  step "scripts/build-pkg.sh (the npm package the console runs on)"
  bash scripts/build-pkg.sh
fi
step "cargo run --release -- serve $*"
exec cargo run --release -- serve "$@"
