//! `GET /vod/DOMAIN/APP/STREAM/FILE`: recordings for playback and download, from
//! storage, with single `Range` requests (RFC 9110 §14) and the format's MIME type.
//!
//! Only recording files are served: four path segments (domain, app, stream, file), the
//! first a domain name (so never `.scratch/` or `.failed/`), none empty, `.` or `..`,
//! and a recording extension — never the metadata DB or scratch files. Streams may be
//! named `.hidden`: their folders are served like any other. Who may read them:
//! [`super::playback::allowed`] (signed URLs with `[playback] key`, else loopback only).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

use super::ControlPlane;
use crate::config::rule::is_valid_domain;
use crate::formats::hls::uri::has_scheme;
use crate::server::urls::{signed_url, vod_url};
use crate::storage::StorageError;

/// MIME type of a recording file by extension; `None` for anything else.
pub fn mime_type(path: &str) -> Option<&'static str> {
    let ext = path.rsplit_once('.')?.1;
    Some(match ext {
        "flv" => "video/x-flv",
        "m3u8" => "application/vnd.apple.mpegurl",
        "ts" => "video/mp2t",
        // fMP4 HLS media segments (RFC 8216 §3.3; the IANA type of ISO BMFF segments).
        "m4s" => "video/iso.segment",
        "mp4" => "video/mp4",
        "aac" => "audio/aac",
        _ => return None,
    })
}

fn servable(path: &str) -> bool {
    let parts: Vec<&str> = path.split('/').collect();
    parts.len() == 4
        && parts.first().is_some_and(|d| is_valid_domain(d))
        && parts
            .iter()
            .all(|p| !p.is_empty() && *p != "." && *p != "..")
        && mime_type(path).is_some()
}

/// A `Range` header that cannot be satisfied (answered with 416).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unsatisfiable;

/// A decimal position of a `Range` header: digits only; values past `u64` saturate
/// (RFC 9110 §14.1.2: a last position or suffix beyond the representation is clamped
/// to it, whatever its length).
fn position(text: &str) -> Result<u64, Unsatisfiable> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Unsatisfiable);
    }
    Ok(text.parse().unwrap_or(u64::MAX))
}

/// A byte range request against a `size`-byte object: `Ok(None)` for the whole object.
/// The unit is case-insensitive (`BYTES=0-9`); several ranges get the whole object.
pub fn parse_range(value: &str, size: u64) -> Result<Option<std::ops::Range<u64>>, Unsatisfiable> {
    let Some((unit, spec)) = value.trim().split_once('=') else {
        return Ok(None);
    };
    if !unit.trim().eq_ignore_ascii_case("bytes") {
        return Ok(None); // another unit: ignored (RFC 9110 §14.2)
    }
    if spec.contains(',') {
        return Ok(None); // several ranges: answer with the whole object (allowed)
    }
    let (a, b) = spec.trim().split_once('-').ok_or(Unsatisfiable)?;
    let range = match (a.trim(), b.trim()) {
        ("", suffix) => {
            let n = position(suffix)?;
            if n == 0 {
                return Err(Unsatisfiable);
            }
            size.saturating_sub(n)..size
        }
        (start, "") => position(start)?..size,
        (start, end) => {
            let (s, e) = (position(start)?, position(end)?);
            if e < s {
                return Err(Unsatisfiable);
            }
            s..e.saturating_add(1).min(size)
        }
    };
    if range.start >= size {
        return Err(Unsatisfiable);
    }
    Ok(Some(range))
}

/// The handler.
pub async fn serve_file(
    State(app): State<Arc<ControlPlane>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(path): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    if !super::playback::allowed(&app, peer, &uri, &headers) {
        return StatusCode::FORBIDDEN.into_response();
    }
    if !servable(&path) {
        return StatusCode::NOT_FOUND.into_response();
    }
    if path.ends_with(".m3u8") {
        if let Some(key) = app.settings.file.playback.key() {
            return signed_playlist(&app, &path, &uri, key).await;
        }
    }
    match app.storage.presigned_url(&path).await {
        Ok(Some(url)) => return (StatusCode::FOUND, [(header::LOCATION, url)]).into_response(),
        Ok(None) => {}
        Err(e) => return failed(&path, &e),
    }
    object(&app, &path, &headers).await
}

/// Answers with the object at `path`: whole, or the single range asked for.
async fn object(app: &ControlPlane, path: &str, headers: &HeaderMap) -> Response {
    let size = match app.storage.size(path).await {
        Ok(size) => size,
        Err(e) => return failed(path, &e),
    };
    let range = match requested_range(headers, size) {
        Ok(range) => range,
        Err(refusal) => return *refusal,
    };
    let (served, stream) = match app.storage.get_stream(path, range.clone()).await {
        Ok(result) => result,
        Err(e) => return failed(path, &e),
    };
    let mut response = Response::new(Body::from_stream(stream));
    let mime = mime_type(path).unwrap_or("application/octet-stream");
    set_range_headers(&mut response, mime, range.is_some(), served, size);
    let cache = if path.ends_with(".m3u8") {
        "no-cache"
    } else {
        "max-age=86400"
    };
    let cache = HeaderValue::from_static(cache);
    response.headers_mut().insert(header::CACHE_CONTROL, cache);
    response
}

/// The single byte range a request asks of a `size`-byte representation (`None`: all
/// of it), or the 416 to answer.
pub fn requested_range(
    headers: &HeaderMap,
    size: u64,
) -> Result<Option<std::ops::Range<u64>>, Box<Response>> {
    let Some(value) = headers.get(header::RANGE).and_then(|v| v.to_str().ok()) else {
        return Ok(None);
    };
    parse_range(value, size).map_err(|Unsatisfiable| {
        let all = [(header::CONTENT_RANGE, format!("bytes */{size}"))];
        Box::new((StatusCode::RANGE_NOT_SATISFIABLE, all).into_response())
    })
}

/// The headers (and 206 status when `partial`) of an answer carrying `served` of a
/// `size`-byte representation of type `mime`.
pub fn set_range_headers(
    response: &mut Response,
    mime: &'static str,
    partial: bool,
    served: std::ops::Range<u64>,
    size: u64,
) {
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(
        header::CONTENT_LENGTH,
        HeaderValue::from(served.end - served.start),
    );
    if partial {
        *response.status_mut() = StatusCode::PARTIAL_CONTENT;
        let (first, last) = (served.start, served.end.saturating_sub(1));
        if let Ok(v) = HeaderValue::from_str(&format!("bytes {first}-{last}/{size}")) {
            response.headers_mut().insert(header::CONTENT_RANGE, v);
        }
    }
}

/// Largest playlist rewritten with signed segment URIs (a day of 2-second segments).
const MAX_SIGNED_PLAYLIST_BYTES: u64 = 16 * 1024 * 1024;

/// A playlist whose segment URIs carry signatures: with a playback key, a player could
/// not fetch the segments by their bare names. They get the playlist URL's own expiry.
async fn signed_playlist(app: &ControlPlane, path: &str, uri: &Uri, key: &str) -> Response {
    let size = match app.storage.size(path).await {
        Ok(size) if size <= MAX_SIGNED_PLAYLIST_BYTES => size,
        Ok(_) => return StatusCode::PAYLOAD_TOO_LARGE.into_response(),
        Err(e) => return failed(path, &e),
    };
    let text = match app.storage.read(path).await {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(e) => return failed(path, &e),
    };
    let expires = super::playback::query_value(uri, "t")
        .and_then(|t| u64::from_str_radix(&t, 16).ok())
        .unwrap_or(0);
    let dir = uri.path().rsplit_once('/').map_or("", |(dir, _)| dir);
    let mut out = String::with_capacity(usize::try_from(size).unwrap_or(0) * 2);
    let sign = |target: &str| {
        if target.starts_with('/') {
            signed_url(target, key, expires)
        } else {
            signed_url(&format!("{dir}/{target}"), key, expires)
        }
    };
    for line in text.lines() {
        match map_uri_span(line) {
            Some((start, end)) => {
                let target = line.get(start..end).unwrap_or_default();
                out.push_str(line.get(..start).unwrap_or_default());
                out.push_str(&sign(target));
                out.push_str(line.get(end..).unwrap_or_default());
            }
            None if line.is_empty() || line.starts_with('#') || has_scheme(line) => {
                out.push_str(line)
            }
            None => out.push_str(&sign(line)),
        }
        out.push('\n');
    }
    let mime = "application/vnd.apple.mpegurl";
    let headers = [
        (header::CONTENT_TYPE, mime),
        (header::CACHE_CONTROL, "no-cache"),
    ];
    (headers, out).into_response()
}

/// Where the relative URI of an `EXT-X-MAP` line (fMP4 initialization section) lies.
fn map_uri_span(line: &str) -> Option<(usize, usize)> {
    let attributes = line.strip_prefix("#EXT-X-MAP:")?;
    let at = attributes.find("URI=\"")? + "#EXT-X-MAP:".len() + "URI=\"".len();
    let len = line.get(at..)?.find('"')?;
    let uri = line.get(at..at + len)?;
    (!uri.is_empty() && !has_scheme(uri)).then_some((at, at + len))
}

/// 404 for a recording that is not there, 500 (logged) when the store fails.
fn failed(path: &str, e: &StorageError) -> Response {
    if let StorageError::NotFound(_) = e {
        return StatusCode::NOT_FOUND.into_response();
    }
    tracing::warn!(%path, error = %e, "serving a recording");
    StatusCode::INTERNAL_SERVER_ERROR.into_response()
}

/// `GET /live/DOMAIN/APP/STREAM.m3u8`: a temporary redirect to the stream's growing HLS
/// playlist (`/vod/…/RECORDINGID.m3u8`, an EVENT playlist), 404 when it has none.
pub async fn live_playlist(
    State(app): State<Arc<ControlPlane>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(path): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    if !super::playback::allowed(&app, peer, &uri, &headers) {
        return StatusCode::FORBIDDEN.into_response();
    }
    let Some(stream_key) = path.strip_suffix(".m3u8") else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let now_s = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    match app.streams.live_playlist(stream_key).await {
        Some(key) => (
            StatusCode::TEMPORARY_REDIRECT,
            [
                (
                    header::LOCATION,
                    app.settings.file.playback.signed(&vod_url("", &key), now_s),
                ),
                (header::CACHE_CONTROL, "no-cache".to_owned()),
            ],
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_uris_are_found_for_signing() {
        let line = "#EXT-X-MAP:URI=\"r_init_00000.mp4\"";
        let (a, b) = map_uri_span(line).unwrap();
        assert_eq!(&line[a..b], "r_init_00000.mp4");
        let ranged = "#EXT-X-MAP:BYTERANGE=\"10@0\",URI=\"i.mp4\"";
        let (a, b) = map_uri_span(ranged).unwrap();
        assert_eq!(&ranged[a..b], "i.mp4");
        assert_eq!(map_uri_span("#EXT-X-MAP:URI=\"https://x/i.mp4\""), None);
        assert_eq!(map_uri_span("#EXTINF:6,"), None);
        assert_eq!(map_uri_span("#EXT-X-MAP:URI=\"unterminated"), None);
    }

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-99", 1000), Ok(Some(0..100)));
        assert_eq!(parse_range("bytes=900-", 1000), Ok(Some(900..1000)));
        assert_eq!(parse_range("bytes=-100", 1000), Ok(Some(900..1000)));
        assert_eq!(parse_range("bytes=-5000", 1000), Ok(Some(0..1000)));
        assert_eq!(parse_range("bytes=990-2000", 1000), Ok(Some(990..1000)));
        assert_eq!(
            parse_range("bytes=0-18446744073709551615", 1000),
            Ok(Some(0..1000))
        );
        assert_eq!(parse_range("bytes=1000-", 1000), Err(Unsatisfiable));
        assert_eq!(parse_range("bytes=5-1", 1000), Err(Unsatisfiable));
        assert_eq!(parse_range("bytes=a-b", 1000), Err(Unsatisfiable));
        assert_eq!(parse_range("bytes=0-1,5-6", 1000), Ok(None));
        assert_eq!(parse_range("items=0-1", 1000), Ok(None));
        // RFC 9110 §14.1.2: positions past the end are clamped, whatever their length;
        // the unit is case-insensitive.
        assert_eq!(
            parse_range("bytes=0-99999999999999999999999", 1000),
            Ok(Some(0..1000))
        );
        assert_eq!(
            parse_range("bytes=-99999999999999999999", 1000),
            Ok(Some(0..1000))
        );
        assert_eq!(parse_range("BYTES=0-9", 1000), Ok(Some(0..10)));
        assert_eq!(parse_range("Bytes=990-", 1000), Ok(Some(990..1000)));
        assert_eq!(
            parse_range("bytes=99999999999999999999-", 1000),
            Err(Unsatisfiable)
        );
        assert_eq!(parse_range("bytes=+5-9", 1000), Err(Unsatisfiable));
    }

    #[test]
    fn only_recordings_are_served() {
        assert!(servable("d.com/live/cam/x.mp4"));
        assert!(!servable("liverec.db"));
        assert!(!servable(".scratch/a/b/c.flv"));
        assert!(servable("d.com/live/.hidden/x.mp4"));
        assert!(servable("d.com/live/..../.x.mp4"));
        assert!(!servable(".failed/a/b/c.flv"));
        assert!(!servable("d.com/live/../x.mp4"));
        assert!(!servable("d.com/./cam/x.mp4"));
        assert!(!servable("d.com/live/cam/x.db"));
        assert!(!servable("d.com/live/x.mp4"));
    }
}
