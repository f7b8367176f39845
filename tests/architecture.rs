//! The shape of the code holds: imports run the way the layer diagram says. It reads
//! `src/`, resolves every `crate::…` and `super::…` path to the module it names, and
//! fails on an arrow the design forbids:
//! - a pure layer (`formats`, `media`, `config`, `record`) into `server`, `cli`, `storage` or
//!   `wasm` (they take bytes, values and time as arguments);
//! - `server/db/` into either wing;
//! - `server/data/` into `server/control/`, and `server/control/` into `server/data/`
//!   (the control plane asks through `server::streams::LiveStreams`);
//! - the server's shared services (`server/*.rs` but the composition root `mod.rs`)
//!   into either wing.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};

/// The module path of a source file: `src/server/data/rtmp.rs` → `server::data::rtmp`,
/// `src/server/data/mod.rs` → `server::data`.
fn module_of(file: &Path, src: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).unwrap();
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_owned())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts
}

/// Every module a source refers to by a `crate::…` or `super::…` path, resolved from
/// `module`, the file's own module (`super` is its parent, for a `mod.rs` too).
fn references(source: &str, module: &[String]) -> Vec<Vec<String>> {
    let mut found = Vec::new();
    let bytes = source.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let rest = &source[i..];
        let after_word = i > 0
            && (bytes[i - 1].is_ascii_alphanumeric()
                || bytes[i - 1] == b'_'
                || bytes[i - 1] == b':');
        if !after_word && (rest.starts_with("crate::") || rest.starts_with("super::")) {
            let path: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            let mut target: Vec<String> = module.to_vec();
            for segment in path.split("::").filter(|s| !s.is_empty()) {
                match segment {
                    "crate" => target.clear(),
                    "super" => {
                        target.pop();
                    }
                    other => target.push(other.to_owned()),
                }
            }
            found.push(target);
            i += path.len();
        } else {
            i += rest.chars().next().map_or(1, char::len_utf8);
        }
    }
    found
}

/// Why `from` may not refer to `to`, if it may not.
fn forbidden(from: &[String], to: &[String]) -> Option<&'static str> {
    let top = |m: &[String]| m.first().cloned().unwrap_or_default();
    let wing = |m: &[String]| (top(m) == "server").then(|| m.get(1).cloned()).flatten();
    if ["formats", "media", "config", "record", "playback", "mix"].contains(&top(from).as_str())
        && ["server", "cli", "storage", "wasm"].contains(&top(to).as_str())
    {
        return Some("a pure layer reaches an impure one");
    }
    let (from_wing, to_wing) = (wing(from), wing(to));
    match (from_wing.as_deref(), to_wing.as_deref()) {
        (Some("db"), Some("data" | "control")) => Some("db/ imports a wing"),
        (Some("data"), Some("control")) => Some("data/ imports control/"),
        (Some("control"), Some("data")) => Some("control/ reaches into data/"),
        (Some(shared), Some("data" | "control"))
            if !["data", "control", "db"].contains(&shared) && from.len() == 2 =>
        {
            Some("a shared service imports a wing")
        }
        _ => None,
    }
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `source` without its comments (they name modules without importing them).
fn code_of(source: &str) -> String {
    source
        .lines()
        .map(|line| line.split_once("//").map_or(line, |(code, _)| code))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The forbidden arrows in `source`, read as the file `file` under `src`.
fn violations(source: &str, file: &Path, src: &Path) -> Vec<String> {
    let source = &code_of(source);
    let module = module_of(file, src);
    references(source, &module)
        .into_iter()
        .filter_map(|to| {
            forbidden(&module, &to).map(|why| {
                format!(
                    "{}: {} → {}: {why}",
                    file.display(),
                    module.join("::"),
                    to.join("::")
                )
            })
        })
        .collect()
}

#[test]
fn imports_follow_the_layers_and_wings() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut found = Vec::new();
    for file in &files {
        found.extend(violations(
            &std::fs::read_to_string(file).unwrap(),
            file,
            &src,
        ));
    }
    assert!(files.len() > 50, "read the sources");
    assert!(found.is_empty(), "forbidden imports:\n{}", found.join("\n"));
}

/// The checker itself catches each forbidden arrow (a test that cannot fail is no test).
#[test]
fn each_forbidden_arrow_is_caught() {
    let src = Path::new("/x/src");
    let caught = |file: &str, source: &str| !violations(source, &src.join(file), src).is_empty();
    assert!(caught(
        "server/data/rtmp.rs",
        "use crate::server::control::wire::ApiError;"
    ));
    assert!(caught(
        "server/data/push.rs",
        "fn f() { super::super::control::auth::verify(); }"
    ));
    assert!(caught(
        "server/data/recovery/mod.rs",
        "use super::super::control::vod;"
    ));
    assert!(caught(
        "server/db/sqlite.rs",
        "use crate::server::data::live::Live;"
    ));
    assert!(caught(
        "server/db/mod.rs",
        "use super::control::ControlPlane;"
    ));
    assert!(caught(
        "server/control/vod.rs",
        "use crate::server::data::live::Live;"
    ));
    assert!(caught("server/notify.rs", "use super::data::DataPlane;"));
    assert!(caught(
        "formats/flv/demux.rs",
        "use crate::server::metrics::Metrics;"
    ));
    assert!(caught(
        "record/session/mod.rs",
        "use crate::storage::Storage;"
    ));
    assert!(caught("config/rule.rs", "crate::cli::run()"));
    // Allowed arrows.
    assert!(!caught(
        "server/data/rtmp.rs",
        "use super::push::Push; use crate::server::streams::LiveStreams;"
    ));
    assert!(!caught(
        "server/control/http.rs",
        "use super::wire::ApiError; use crate::server::db::Change;"
    ));
    assert!(!caught(
        "server/mod.rs",
        "use data::DataPlane; pub use control::http::router; crate::server::data::rtmp::serve_rtmp"
    ));
    assert!(!caught(
        "record/session/mod.rs",
        "use crate::formats::flv::FlvTag; use super::output::Output;"
    ));
}
