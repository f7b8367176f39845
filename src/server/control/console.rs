//! `GET /console/…`: the web console, its files embedded in the binary by `build.rs`
//! (`www/console/`, and the npm package under `pkg/` when it was built first). The
//! console is a client of the reference API like any other (`POST /`, signed in the
//! browser when the server has credentials); this module only hands out its files, with
//! a Content-Security-Policy that lets them load nothing from elsewhere.

use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};

include!(concat!(env!("OUT_DIR"), "/console_assets.rs"));

/// What the console's pages may load: their own files, the wasm package, media from
/// this server (and `blob:` URLs the players make; the clip page previews a playlist
/// spliced in the page from one).
const POLICY: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; \
    style-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; \
    connect-src 'self' blob:; worker-src 'self' blob:; object-src 'none'; base-uri 'none'; \
    frame-ancestors 'none'; form-action 'none'";

/// The MIME type of a console file.
fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map_or("", |(_, ext)| ext) {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "wasm" => "application/wasm",
        "json" => "application/json",
        "svg" => "image/svg+xml",
        "txt" | "md" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// The embedded file at `path` (under `/console/`), if any.
pub fn asset(path: &str) -> Option<&'static [u8]> {
    ASSETS
        .iter()
        .find(|(name, _)| *name == path)
        .map(|(_, bytes)| *bytes)
}

/// Whether the npm package was embedded (the console's validation and playlist tools
/// need it).
pub fn has_package() -> bool {
    asset("pkg/liverec_bg.wasm").is_some()
}

/// `GET /console`: to the console's index.
pub async fn redirect() -> Response {
    Redirect::permanent("/console/").into_response()
}

/// `GET /console/`: the index page.
pub async fn index() -> Response {
    file(Path(String::from("index.html"))).await
}

/// `GET /console/PATH`: a console file.
pub async fn file(Path(path): Path<String>) -> Response {
    let Some(bytes) = asset(&path) else {
        let why = if path.starts_with("pkg/") {
            "the npm package was not built into this server: run scripts/build-pkg.sh, then build the server again\n"
        } else {
            "no such console file\n"
        };
        return (StatusCode::NOT_FOUND, why).into_response();
    };
    (
        [
            (header::CONTENT_TYPE, content_type(&path)),
            (header::CACHE_CONTROL, "no-cache"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::CONTENT_SECURITY_POLICY, POLICY),
        ],
        bytes,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_console_files_are_embedded() {
        let index = asset("index.html").expect("www/console/index.html");
        assert!(String::from_utf8_lossy(index).contains("<title>"));
        assert!(asset("console.js").is_some() && asset("api.js").is_some());
        assert!(asset("../Cargo.toml").is_none());
        assert_eq!(content_type("pkg/liverec_bg.wasm"), "application/wasm");
    }
}
