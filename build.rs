//! Embeds the web console into the server binary: every file of `www/console/`; the npm
//! package (`pkg/`: the console runs on it) when it has been built
//! (`scripts/build-pkg.sh`, which touches this file so the next build embeds it); and
//! the players it vendors from npm (`www/node_modules/`, after `npm ci` in `www/`), with
//! their licences. The generated `console_assets.rs` lists `(path, bytes)`; the wasm
//! build embeds nothing.
#![allow(clippy::expect_used)] // A build script fails loudly on a broken checkout.

use std::fmt::Write as _;
use std::path::Path;

/// The package files the console loads, under `pkg/`.
const PACKAGE_FILES: [&str; 6] = [
    "liverec.js",
    "liverec_glue.js",
    "liverec_bg.wasm",
    "liverec_export.js",
    "liverec_export_glue.js",
    "liverec_export_bg.wasm",
];

/// Vendored files: (path under `www/node_modules/`, path under `/console/`).
const VENDORED: [(&str, &str); 4] = [
    ("hls.js/dist/hls.light.min.mjs", "vendor/hls.mjs"),
    ("hls.js/LICENSE", "vendor/hls.js.LICENSE.txt"),
    ("mpegts.js/dist/mpegts.js", "vendor/mpegts.js"),
    ("mpegts.js/LICENSE", "vendor/mpegts.js.LICENSE.txt"),
];

fn main() {
    let out = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    let root = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let root = Path::new(&root);
    let wasm = std::env::var("CARGO_CFG_TARGET_ARCH").is_ok_and(|a| a == "wasm32");
    let mut assets: Vec<(String, std::path::PathBuf)> = Vec::new();
    println!("cargo:rerun-if-changed=build.rs");
    if !wasm {
        let console = root.join("www/console");
        if console.is_dir() {
            println!("cargo:rerun-if-changed=www/console");
            let mut files: Vec<_> = std::fs::read_dir(&console)
                .expect("www/console is readable")
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.is_file())
                .collect();
            files.sort();
            for path in files {
                let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
                assets.push((name.to_owned(), path.clone()));
            }
        }
        let optional = PACKAGE_FILES
            .iter()
            .map(|name| (format!("pkg/{name}"), format!("pkg/{name}")))
            .chain(
                VENDORED
                    .iter()
                    .map(|(from, to)| (format!("www/node_modules/{from}"), (*to).to_owned())),
            );
        for (from, to) in optional {
            let path = root.join(&from);
            // Only watched once it exists: a missing watched path reruns every build.
            if path.is_file() {
                println!("cargo:rerun-if-changed={from}");
                assets.push((to, path));
            }
        }
    }
    let mut code = String::from("/// The console's files: (path under /console/, bytes).\n");
    code.push_str("pub const ASSETS: &[(&str, &[u8])] = &[\n");
    for (name, path) in &assets {
        let _ = writeln!(
            code,
            "    ({name:?}, include_bytes!({:?})),",
            path.display().to_string()
        );
    }
    code.push_str("];\n");
    std::fs::write(Path::new(&out).join("console_assets.rs"), code).expect("OUT_DIR is writable");
}
