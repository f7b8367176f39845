#!/usr/bin/env bash
# Every check liverec has, from a fresh machine: installs what is missing (idempotent,
# safe to rerun), then runs formatting, lints, Rust tests, the wasm build with the
# server feature off, and the npm package's Node tests. README.md and .ci/run call this.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
shared="$root/../shared"
export PATH="$HOME/.cargo/bin:$PATH"

# shellcheck source=scripts/install.sh
source "$root/scripts/install.sh"

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
install_wasm_tools
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
