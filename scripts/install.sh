#!/usr/bin/env bash
# What liverec's scripts install when missing (sourced by scripts/test-all.sh and
# scripts/serve.sh; idempotent: each step checks first). Expects $root (the checkout)
# and $shared (../shared beside it, optional).
WASM_BINDGEN_VERSION=0.2.130   # must equal the `=0.2.130` pin in Cargo.toml
WASM_PACK_VERSION=0.15.1

step() { printf '\n==> %s\n' "$*"; }

install_apt_packages() {
  # Debian packages the checks need; apt-get runs only when one is missing.
  local missing=()
  command -v node >/dev/null || missing+=(nodejs)
  command -v npm >/dev/null || missing+=(npm)
  command -v gzip >/dev/null || missing+=(gzip)
  command -v cc >/dev/null || missing+=(build-essential)
  command -v pkg-config >/dev/null || missing+=(pkg-config)
  [ -x /usr/bin/chromium ] || missing+=(chromium)   # browser tests (playwright-core drives it)
  command -v ffmpeg >/dev/null || missing+=(ffmpeg)  # test media (H.264/AAC HLS recordings)
  command -v python3 >/dev/null || missing+=(python3 python3-venv)  # the official SDK's tests
  [ -x /usr/lib/postgresql/15/bin/initdb ] || missing+=(postgresql-15)  # cluster tests (throwaway clusters)
  if [ ${#missing[@]} -gt 0 ]; then
    step "apt-get install ${missing[*]}"
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
  fi
}

install_serve_packages() {
  # What the console's build needs beside Rust (Node runs wasm-pack's finishing step and
  # npm fetches the players); apt-get runs only when one is missing.
  local missing=()
  command -v node >/dev/null || missing+=(nodejs)
  command -v npm >/dev/null || missing+=(npm)
  command -v cc >/dev/null || missing+=(build-essential)
  command -v pkg-config >/dev/null || missing+=(pkg-config)
  if [ ${#missing[@]} -gt 0 ]; then
    step "apt-get install ${missing[*]}"
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
  fi
}

install_rust_tools() {
  rustup component add rustfmt clippy >/dev/null 2>&1 || true
}

install_wasm_tools() {
  # The wasm32 target (rustup, else the copy kept in ../shared/toolchain), then the
  # pinned wasm-bindgen-cli and wasm-pack.
  if [ -f "$shared/toolchain/install-wasm32-target.sh" ]; then
    bash "$shared/toolchain/install-wasm32-target.sh"
  else
    rustup target add wasm32-unknown-unknown
  fi
  if [ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $WASM_BINDGEN_VERSION" ]; then
    step "cargo install wasm-bindgen-cli $WASM_BINDGEN_VERSION"
    # Not --locked: its lockfile pins a crate version the registry no longer serves.
    cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --force
  fi
  if [ "$(wasm-pack --version 2>/dev/null)" != "wasm-pack $WASM_PACK_VERSION" ]; then
    step "cargo install wasm-pack $WASM_PACK_VERSION"
    cargo install wasm-pack --version "$WASM_PACK_VERSION" --force
  fi
}

