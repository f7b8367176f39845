//! `GET /playback/…`: any time range of a stream's recordings, whatever files hold it.
//!
//! - `/playback/list/DOMAIN/APP/STREAM?start=…&end=…`: the spans the recordings cover
//!   (merged across files and formats) and the gaps between them, as JSON; both ends
//!   optional.
//! - `/playback/DOMAIN/APP/STREAM.m3u8?start=…&end=…`: a VOD playlist of the range from
//!   the stream's HLS recordings ([`crate::playback::playlist`]).
//! - `/playback/DOMAIN/APP/STREAM.mp4?start=…&end=…`: one seekable MP4 of the range from
//!   its MP4 or FLV recordings ([`super::range_mp4`]).
//!
//! Times: ISO 8601 with a zone, or Unix seconds; a media range is at most 24 h. A range
//! no recording touches is a 404 whose JSON names the nearest spans before and after.
//!
//! Access ([`allowed`], also for `/vod`): with `[playback] key` set, every request needs
//! `t` and `sign` ([`crate::playback::sign`]); a refused one gets 403 and no body.
//! Without a key, only loopback clients naming a loopback host are served (the rule of
//! unsigned API requests). Only finished (indexed) recordings are played; a stream's
//! growing HLS recording is at `/live/…`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::{ConnectInfo, Path, State};
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use futures_util::stream::{self, StreamExt};
use serde_json::{json, Value};

use super::http::names_loopback_host;
use super::ControlPlane;
use crate::config::rule::is_valid_domain;
use crate::formats::hls::datetime::encode_date_time;
use crate::formats::hls::playlist::Playlist;
use crate::playback::playlist::range_playlist;
use crate::playback::range::TimeRange;
use crate::playback::sign::check;
use crate::playback::spans::{gaps, merge, Covered, Span};
use crate::server::db::{Recording, Search};
use crate::server::urls::{signed_url, vod_url};
use crate::storage::Storage;

use super::range_mp4::{range_mp4, respond, Mp4Problem};

/// Most recordings one listing or playlist reads (a day of one-minute files in four
/// formats is 5,760).
pub const MAX_RANGE_RECORDINGS: i64 = 10_000;
/// How much earlier than its media a recording's indexed end may be
/// ([`Recording::media_end_ms`]): rows ending this much before a range are read too.
const END_SLACK_MS: i64 = 60_000;
/// Playlists read from storage at once.
const PLAYLIST_READS: usize = 16;

fn now_s() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The query's value of `name` (form-decoded).
pub(super) fn query_value(uri: &Uri, name: &str) -> Option<String> {
    form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// Whether the request may read recordings (see the module doc); refused ones get 403
/// and no body.
pub fn allowed(app: &ControlPlane, peer: SocketAddr, uri: &Uri, headers: &HeaderMap) -> bool {
    match app.settings.file.playback.key() {
        Some(key) => {
            let t = query_value(uri, "t");
            let sign = query_value(uri, "sign");
            check(key, uri.path(), t.as_deref(), sign.as_deref(), now_s()).is_ok()
        }
        None => peer.ip().is_loopback() && names_loopback_host(headers),
    }
}

/// A problem, as JSON.
fn problem(status: StatusCode, code: &str, message: &str, extra: Option<Value>) -> Response {
    let mut body = json!({"code": code, "message": message});
    if let (Some(extra), Some(map)) = (extra, body.as_object_mut()) {
        map.insert("nearest".into(), extra);
    }
    json_response(status, &body)
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    let headers = [(header::CONTENT_TYPE, "application/json")];
    (status, headers, body.to_string()).into_response()
}

/// `DOMAIN/APP/STREAM`, each non-empty, the domain a domain name.
struct StreamPath<'a> {
    domain: &'a str,
    app: &'a str,
    stream: &'a str,
}

impl<'a> StreamPath<'a> {
    fn parse(path: &'a str) -> Option<Self> {
        let mut parts = path.split('/');
        let (domain, app, stream) = (parts.next()?, parts.next()?, parts.next()?);
        let fine = |p: &str| !p.is_empty() && p != "." && p != "..";
        (parts.next().is_none() && is_valid_domain(domain) && fine(app) && fine(stream)).then_some(
            Self {
                domain,
                app,
                stream,
            },
        )
    }

    fn search(&self, format: Option<&str>) -> Search {
        Search {
            domain_name: Some(self.domain.to_owned()),
            app_name: Some(self.app.to_owned()),
            stream_names: vec![self.stream.to_owned()],
            format: format.map(str::to_owned),
            limit: MAX_RANGE_RECORDINGS,
            without_total: true,
            ..Search::default()
        }
    }
}

/// The handler.
pub async fn serve(
    State(app): State<Arc<ControlPlane>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(path): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    if !allowed(&app, peer, &uri, &headers) {
        return StatusCode::FORBIDDEN.into_response();
    }
    let (start, end) = (query_value(&uri, "start"), query_value(&uri, "end"));
    let (start, end) = (start.as_deref(), end.as_deref());
    if let Some(stream) = path.strip_prefix("list/").and_then(StreamPath::parse) {
        return match TimeRange::for_listing(start, end) {
            Ok(range) => list(&app, &stream, &range).await,
            Err(e) => problem(StatusCode::BAD_REQUEST, e.code(), &e.to_string(), None),
        };
    }
    let media = path
        .strip_suffix(".m3u8")
        .map(|p| (p, true))
        .or_else(|| path.strip_suffix(".mp4").map(|p| (p, false)));
    let Some((stream, is_playlist)) = media.and_then(|(p, m)| Some((StreamPath::parse(p)?, m)))
    else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let range = match TimeRange::for_media(start, end) {
        Ok(range) => range,
        Err(e) => return problem(StatusCode::BAD_REQUEST, e.code(), &e.to_string(), None),
    };
    if is_playlist {
        playlist(&app, &stream, &range).await
    } else {
        mp4(&app, &stream, &range, &headers, &uri).await
    }
}

async fn recordings(
    app: &ControlPlane,
    stream: &StreamPath<'_>,
    range: &TimeRange,
    format: Option<&str>,
) -> Result<Vec<Recording>, Response> {
    let mut search = stream.search(format);
    search.before_ms = Some(range.end_ms);
    search.ends_after_ms = Some(range.start_ms.saturating_sub(END_SLACK_MS));
    match app.db.search(&search).await {
        Ok((_, mut rows)) => {
            rows.retain(|r| r.media_end_ms() > range.start_ms);
            Ok(rows)
        }
        Err(e) => {
            tracing::warn!(error = %e, "playback: reading the recordings index");
            Err(StatusCode::INTERNAL_SERVER_ERROR.into_response())
        }
    }
}

fn covered(rows: &[Recording]) -> Vec<Covered> {
    rows.iter()
        .map(|r| Covered {
            start_ms: r.start_ms,
            end_ms: r.media_end_ms(),
            format: r.format.clone(),
        })
        .collect()
}

fn span_json(span: &Span) -> Value {
    json!({
        "start": encode_date_time(span.start_ms),
        "end": encode_date_time(span.end_ms),
        "startUnixMs": span.start_ms,
        "endUnixMs": span.end_ms,
        "durationSeconds": (span.end_ms - span.start_ms) as f64 / 1000.0,
        "formats": span.formats,
    })
}

/// The 404 of a range no recording touches, with the spans nearest to it.
async fn nothing_there(app: &ControlPlane, stream: &StreamPath<'_>, range: &TimeRange) -> Response {
    let mut before = stream.search(None);
    (before.before_ms, before.descending, before.limit) = (Some(range.start_ms), true, 1);
    let mut after = stream.search(None);
    (after.after_ms, after.limit) = (Some(range.end_ms), 1);
    let mut nearest = Vec::new();
    for search in [before, after] {
        if let Ok((_, rows)) = app.db.search(&search).await {
            let all = TimeRange::for_listing(None, None).unwrap_or(*range);
            nearest.extend(merge(covered(&rows), &all).iter().map(span_json));
        }
    }
    let message = format!(
        "no recording of {}/{}/{} between {} and {}",
        stream.domain,
        stream.app,
        stream.stream,
        encode_date_time(range.start_ms),
        encode_date_time(range.end_ms)
    );
    problem(
        StatusCode::NOT_FOUND,
        "ResourceNotFound.NoRecording",
        &message,
        Some(Value::Array(nearest)),
    )
}

async fn mp4(
    app: &ControlPlane,
    stream: &StreamPath<'_>,
    range: &TimeRange,
    headers: &HeaderMap,
    uri: &Uri,
) -> Response {
    let rows = match recordings(app, stream, range, None).await {
        Ok(rows) => rows,
        Err(response) => return response,
    };
    if rows.is_empty() {
        return nothing_there(app, stream, range).await;
    }
    let cache_key = format!("{}?{}-{}", uri.path(), range.start_ms, range.end_ms);
    let built = range_mp4(&app.storage, &app.mp4_cache, cache_key, &rows, range).await;
    let built = match built {
        Ok(built) => built,
        Err(Mp4Problem::NoSource(formats)) => {
            let message = format!(
                "this range is recorded as {} only: its MP4 is made from MP4 or FLV recordings",
                formats.join(", ")
            );
            return problem(
                StatusCode::NOT_FOUND,
                "ResourceNotFound.NoMp4Source",
                &message,
                None,
            );
        }
        Err(Mp4Problem::Empty(message)) => {
            return problem(
                StatusCode::NOT_FOUND,
                "ResourceNotFound.NoRecording",
                &message,
                None,
            )
        }
        Err(Mp4Problem::Storage(message)) => {
            tracing::warn!(%message, "playback: reading a recording");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    let next = built.cut_at.map(|cut| {
        let mut next = format!(
            "{}?start={}.{:03}&end={}.{:03}",
            uri.path(),
            cut / 1000,
            cut % 1000,
            range.end_ms / 1000,
            range.end_ms % 1000
        );
        if let Some(key) = app.settings.file.playback.key() {
            let expires = now_s() + app.settings.file.playback.url_seconds;
            next = signed_url(&next, key, expires);
        }
        next
    });
    respond(&app.storage, built, headers, next)
}

/// The 404 of a range without HLS recordings: which formats hold it, if any.
async fn no_hls(app: &ControlPlane, stream: &StreamPath<'_>, range: &TimeRange) -> Response {
    let others = match recordings(app, stream, range, None).await {
        Ok(rows) => rows,
        Err(response) => return response,
    };
    if others.is_empty() {
        return nothing_there(app, stream, range).await;
    }
    let mut formats: Vec<&str> = others.iter().map(|r| r.format.as_str()).collect();
    formats.sort_unstable();
    formats.dedup();
    let message = format!(
        "this range is recorded as {} only: a playlist needs HLS recordings (the .mp4 of the range plays the others)",
        formats.join(", ")
    );
    problem(
        StatusCode::NOT_FOUND,
        "ResourceNotFound.NoHlsRecording",
        &message,
        None,
    )
}

async fn list(app: &ControlPlane, stream: &StreamPath<'_>, range: &TimeRange) -> Response {
    let rows = match recordings(app, stream, range, None).await {
        Ok(rows) => rows,
        Err(response) => return response,
    };
    if rows.is_empty() {
        return nothing_there(app, stream, range).await;
    }
    let truncated = rows.len() as i64 >= MAX_RANGE_RECORDINGS;
    let spans = merge(covered(&rows), range);
    let gaps: Vec<Value> = gaps(&spans)
        .iter()
        .map(|g| {
            json!({"start": encode_date_time(g.start_ms), "end": encode_date_time(g.end_ms),
                "durationSeconds": (g.end_ms - g.start_ms) as f64 / 1000.0})
        })
        .collect();
    let body = json!({
        "domainName": stream.domain,
        "appName": stream.app,
        "streamName": stream.stream,
        "spans": spans.iter().map(span_json).collect::<Vec<_>>(),
        "gaps": gaps,
        "recordings": rows.len(),
        "truncated": truncated,
    });
    json_response(StatusCode::OK, &body)
}

async fn playlist(app: &ControlPlane, stream: &StreamPath<'_>, range: &TimeRange) -> Response {
    let rows = match recordings(app, stream, range, Some("hls")).await {
        Ok(rows) => rows,
        Err(response) => return response,
    };
    if rows.is_empty() {
        return no_hls(app, stream, range).await;
    }
    let playlists = playlists_of(app, &rows).await;
    let playlists: Vec<&Playlist> = playlists.iter().map(Arc::as_ref).collect();
    let built = match range_playlist(&playlists, range) {
        Ok(built) => built,
        Err(_) => return nothing_there(app, stream, range).await,
    };
    let mut text = built;
    if let Some(key) = app.settings.file.playback.key() {
        let expires = now_s() + app.settings.file.playback.url_seconds;
        text = sign_uris(&text, key, expires);
    }
    (
        [
            (header::CONTENT_TYPE, "application/vnd.apple.mpegurl"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        text,
    )
        .into_response()
}

/// A recording's playlist from storage, its URIs resolved against `base`.
async fn read_playlist(storage: &Storage, key: &str, base: String) -> Option<Arc<Playlist>> {
    let bytes = storage.read(key).await.ok()?;
    let text = String::from_utf8(bytes.to_vec()).ok()?;
    Some(Arc::new(
        Playlist::parse_owned(text).ok()?.with_base_url(Some(base)),
    ))
}

/// The final playlists of `rows` (from the cache, else read from storage and kept).
async fn playlists_of(app: &ControlPlane, rows: &[Recording]) -> Vec<Arc<Playlist>> {
    let public = app.settings.public_url();
    let cached: Vec<Option<Arc<Playlist>>> = rows
        .iter()
        .map(|r| app.playlist_cache.get(&r.storage_path))
        .collect();
    let sources: Vec<(String, String)> = rows
        .iter()
        .zip(&cached)
        .filter(|(_, c)| c.is_none())
        .map(|(r, _)| (r.storage_path.clone(), vod_url(&public, &r.storage_path)))
        .collect();
    let storage = app.storage.clone();
    let read: Vec<(String, Option<Arc<Playlist>>)> = stream::iter(sources)
        .map(move |(key, base)| {
            let storage = storage.clone();
            async move {
                let playlist = read_playlist(&storage, &key, base).await;
                (key, playlist)
            }
        })
        .buffered(PLAYLIST_READS)
        .collect()
        .await;
    let missing = read.iter().filter(|(_, p)| p.is_none()).count();
    if missing > 0 {
        tracing::warn!(
            missing,
            "playback: HLS playlists unreadable or missing in storage"
        );
    }
    let mut read = read.into_iter();
    cached
        .into_iter()
        .filter_map(|c| match c {
            Some(hit) => Some(hit),
            None => {
                let (key, playlist) = read.next()?;
                let playlist = playlist?;
                app.playlist_cache.put(key, Arc::clone(&playlist));
                Some(playlist)
            }
        })
        .collect()
}

/// Parsed final playlists of HLS recordings, which never change once indexed (a
/// recording's segments and playlist are deleted together), so a range over a day of
/// them does not read 1,440 objects each time.
#[derive(Debug, Default)]
pub struct PlaylistCache {
    entries: std::sync::Mutex<std::collections::HashMap<String, Arc<Playlist>>>,
}

/// Playlists the cache holds before it starts afresh (a few KiB each).
pub const CACHED_PLAYLISTS: usize = 8192;

impl PlaylistCache {
    fn get(&self, key: &str) -> Option<Arc<Playlist>> {
        self.entries.lock().ok()?.get(key).cloned()
    }

    fn put(&self, key: String, playlist: Arc<Playlist>) {
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= CACHED_PLAYLISTS {
                entries.clear();
            }
            entries.insert(key, playlist);
        }
    }
}

/// Signs every URI line of a playlist.
fn sign_uris(text: &str, key: &str, expires_s: u64) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 2);
    for line in text.lines() {
        if line.is_empty() || line.starts_with('#') {
            out.push_str(line);
        } else {
            out.push_str(&signed_url(line, key, expires_s));
        }
        out.push('\n');
    }
    out
}
