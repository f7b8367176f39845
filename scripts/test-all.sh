#!/usr/bin/env bash
# Every check liverec has, from a fresh machine: installs what is missing (idempotent,
# safe to rerun), then runs formatting, lints, Rust tests, the wasm build with the
# server feature off, and the npm package's Node tests. README.md and .ci/run call this.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
shared="$root/../shared"
export PATH="$HOME/.cargo/bin:$PATH"

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

install_rust_tools() {
  rustup component add rustfmt clippy >/dev/null 2>&1 || true
  bash "$shared/toolchain/install-wasm32-target.sh"
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

check_wasm_dependencies() {
  # The wasm build must not pull in anything of the server (tokio, axum, ...).
  local forbidden='^(tokio|axum|hyper|sqlx|object_store|clap|reqwest|rml_rtmp|indicatif|tracing-subscriber|mio) '
  local leaked
  leaked=$(cargo tree --target wasm32-unknown-unknown --no-default-features -e normal --prefix none \
    | sort -u | grep -E "$forbidden" || true)
  if [ -n "$leaked" ]; then
    echo "server-only crates in the wasm build:" >&2
    echo "$leaked" >&2
    return 1
  fi
}

install_s3s_fs() {
  # An S3 server for the cluster tests (tests/cluster.rs). 0.14.1: newer ones need Rust 1.96.
  if ! command -v s3s-fs >/dev/null; then
    step "cargo install s3s-fs 0.14.1"
    cargo install s3s-fs --version 0.14.1 --features binary --locked
  fi
}

install_python_sdk() {
  # The reference API's official Python SDK, in a virtualenv under target/ (tests/control_plane.rs).
  if ! target/sdk-venv/bin/python -c 'import tencentcloud.live.v20180801' >/dev/null 2>&1; then
    step "python venv with tencentcloud-sdk-python-live"
    python3 -m venv target/sdk-venv
    target/sdk-venv/bin/pip install --quiet "tencentcloud-sdk-python-live==3.1.195"
  fi
}

install_tccli() {
  # The reference's command-line tool, in a virtualenv of its own (it pins the full
  # Python SDK): tests/control_plane.rs drives liverec with it.
  if ! target/tccli-venv/bin/tccli --version >/dev/null 2>&1; then
    step "python venv with tccli"
    python3 -m venv target/tccli-venv
    target/tccli-venv/bin/pip install --quiet "tccli==3.1.189.1"
  fi
}

install_ffmpeg9() {
  # A static FFmpeg 9.0.2 (PyPI imageio-ffmpeg 0.8.1): Enhanced RTMP v2 publishers (AV1,
  # VP9, Opus, multitrack) in tests/ingest.rs; Debian's ffmpeg 5.1 predates them.
  if ! target/ffmpeg9-venv/bin/python -c 'import imageio_ffmpeg; imageio_ffmpeg.get_ffmpeg_exe()' >/dev/null 2>&1; then
    step "python venv with imageio-ffmpeg (static FFmpeg 9)"
    python3 -m venv target/ffmpeg9-venv
    target/ffmpeg9-venv/bin/pip install --quiet "imageio-ffmpeg==0.8.1"
  fi
}

install_apt_packages
install_rust_tools
install_s3s_fs
install_python_sdk
install_tccli
install_ffmpeg9

step "npm ci in www/ (hls.js: the pages' player, vendored into the server's console)"
(cd www && npm ci --no-audit --no-fund)

step "cargo fmt --check"
cargo fmt --all --check

step "cargo clippy (native, all targets)"
cargo clippy --all-targets -- -D warnings

step "cargo clippy (wasm32, server feature off: the core module, then the clip export module)"
cargo clippy --target wasm32-unknown-unknown --no-default-features --lib -- -D warnings
cargo clippy --target wasm32-unknown-unknown --no-default-features --features clip-export --lib -- -D warnings

step "cargo test"
cargo test

step "wasm build: no server dependency in the pure layers"
check_wasm_dependencies
bash scripts/build-pkg.sh

step "node tests against pkg/"
cargo build --bin liverec
(cd tests/node && npm ci --no-audit --no-fund)
LIVEREC_BIN="$root/target/debug/liverec" node --test tests/node/
