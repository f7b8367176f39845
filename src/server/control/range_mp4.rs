//! `GET /playback/DOMAIN/APP/STREAM.mp4?start=…&end=…`: one moov-first MP4 of a time
//! range, stitched from the stream's MP4 or FLV recordings without re-encoding
//! ([`crate::formats::mp4::stitch`]; the module doc there argues moov-first over
//! fragments). The sources' indexes are read once per range — an MP4's `moov` (a few
//! range reads), an FLV's tags (the whole file, streamed), an HLS recording's segments
//! (each read and demuxed) — and the result is kept in a
//! small cache, so a player's range requests while it seeks reuse it. Each response
//! streams the sources' bytes in windows of at most [`MAX_WINDOW`] bytes: memory does
//! not grow with the range.
//!
//! Which recordings: MP4, unless FLV recordings cover more than a tenth more of the
//! range, or HLS more than a tenth more than both — HLS segments are demuxed (once to
//! index them, again when their bytes are served: a TS segment's samples are not byte
//! ranges of it). A configuration change (another picture size, another codec) between
//! or inside recordings cuts the file there: the response says so in `Liverec-Cut-At`
//! (ISO 8601) and `Liverec-Next` (the URL of the rest).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::Response;
use bytes::Bytes;
use futures_util::stream::{self, StreamExt};

use crate::formats::flv::demux::FlvDemuxer;
use crate::formats::flv::samples::FlvSamples;
use crate::formats::hls::datetime::encode_date_time;
use crate::formats::hls::playlist::Playlist;
use crate::formats::mp4::fragments::segment_samples;
use crate::formats::mp4::samples::moov_samples;
use crate::formats::mp4::scan::box_header;
use crate::formats::mp4::stitch::{stitch, Piece, Read, Stitched};
use crate::formats::mp4::Mp4Tracks;
use crate::formats::mpegts::samples::demux_segment;
use crate::playback::range::TimeRange;
use crate::server::db::Recording;
use crate::storage::{Storage, StorageError};

/// Largest read of source bytes held at once per response.
pub const MAX_WINDOW: u64 = 4 * 1024 * 1024;
/// Source bytes skipped inside one window rather than starting another (FLV tag headers
/// between samples).
const MAX_GAP: u64 = 64 * 1024;
/// Source files indexed at once.
const INDEX_READS: usize = 8;
/// Stitched ranges kept for the range requests that follow.
const CACHED_RANGES: usize = 8;
/// Largest `moov` read from a source MP4.
const MAX_MOOV_BYTES: u64 = 64 * 1024 * 1024;
/// First read of a source MP4: `ftyp` and, usually, the whole `moov`.
const HEAD_READ: u64 = 256 * 1024;

/// A stitched range and the storage keys of its sources.
#[derive(Debug)]
pub struct RangeMp4 {
    /// The virtual file.
    pub file: Stitched,
    /// Each source: its storage key, and whether it is an MPEG-TS segment (its samples
    /// are in its demuxed form, not in its bytes).
    pub sources: Vec<(String, bool)>,
    /// Where a configuration change cut the range (wall ms).
    pub cut_at: Option<i64>,
}

/// The most recently stitched ranges.
#[derive(Debug, Default)]
pub struct Mp4Cache {
    entries: Mutex<VecDeque<(String, Arc<RangeMp4>)>>,
}

impl Mp4Cache {
    fn get(&self, key: &str) -> Option<Arc<RangeMp4>> {
        let entries = self.entries.lock().ok()?;
        entries
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| Arc::clone(v))
    }

    fn put(&self, key: String, value: Arc<RangeMp4>) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.retain(|(k, _)| *k != key);
            if entries.len() >= CACHED_RANGES {
                entries.pop_front();
            }
            entries.push_back((key, value));
        }
    }
}

/// Why a range has no MP4.
#[derive(Debug)]
pub enum Mp4Problem {
    /// No MP4 or FLV recording in the range: the formats that are there.
    NoSource(Vec<String>),
    /// Reading a source failed.
    Storage(String),
    /// The sources hold nothing playable in the range.
    Empty(String),
}

/// The MP4 of `range` from `rows` (the recordings overlapping it), from the cache when
/// it was made a moment ago.
pub async fn range_mp4(
    storage: &Storage,
    cache: &Mp4Cache,
    cache_key: String,
    rows: &[Recording],
    range: &TimeRange,
) -> Result<Arc<RangeMp4>, Mp4Problem> {
    if let Some(hit) = cache.get(&cache_key) {
        return Ok(hit);
    }
    let chosen = choose(rows, range);
    if chosen.is_empty() {
        let mut formats: Vec<String> = rows.iter().map(|r| r.format.clone()).collect();
        formats.sort();
        formats.dedup();
        return Err(Mp4Problem::NoSource(formats));
    }
    let loaded = load(storage, &chosen, range).await?;
    let cut_at = loaded.cut_at;
    let end = cut_at.map_or(range.end_ms, |c| c.min(range.end_ms));
    let tracks = loaded.tracks.unwrap_or_default();
    let file = stitch(&tracks, &loaded.pieces, range.start_ms, end)
        .map_err(|e| Mp4Problem::Empty(e.to_string()))?;
    let built = Arc::new(RangeMp4 {
        file,
        sources: loaded.sources,
        cut_at: cut_at.filter(|c| *c < range.end_ms),
    });
    cache.put(cache_key, Arc::clone(&built));
    Ok(built)
}

/// The recordings of the format that covers most of the range, in time order.
fn choose<'a>(rows: &'a [Recording], range: &TimeRange) -> Vec<&'a Recording> {
    let covered = |format: &str| -> i64 {
        rows.iter()
            .filter(|r| r.format == format)
            .map(|r| r.media_end_ms().min(range.end_ms) - r.start_ms.max(range.start_ms))
            .sum()
    };
    // MP4 unless FLV covers clearly more (an MP4 file ends at its last fragment); HLS
    // when it covers clearly more than both (its samples must be demuxed to be served).
    let (mp4, flv, hls) = (covered("mp4"), covered("flv"), covered("hls"));
    let format = if hls * 10 > mp4.max(flv) * 11 {
        "hls"
    } else if mp4 * 10 >= flv * 9 && mp4 > 0 {
        "mp4"
    } else {
        "flv"
    };
    // A recording that closed before the range starts is not in it, even if the frames
    // its encoder sent in a last burst reach past its close on the media clock (the
    // next push's recording starts there: a cut's `Liverec-Next` range must not begin
    // with the recording before the cut again).
    let mut chosen: Vec<&Recording> = rows
        .iter()
        .filter(|r| {
            r.format == format && (r.end_ms > range.start_ms || r.start_ms >= range.start_ms)
        })
        .collect();
    chosen.sort_by_key(|r| r.start_ms);
    chosen
}

/// What the sources' indexes give.
#[derive(Default)]
struct Loaded {
    tracks: Option<Mp4Tracks>,
    pieces: Vec<Piece>,
    sources: Vec<(String, bool)>,
    cut_at: Option<i64>,
}

impl Loaded {
    /// The next source's index number.
    fn next_source(&self) -> u32 {
        u32::try_from(self.sources.len()).unwrap_or(u32::MAX)
    }

    /// Adds a piece starting at `start_ms`; false (and the cut noted) when its
    /// configuration differs from the first piece's.
    fn add(
        &mut self,
        tracks: Mp4Tracks,
        piece: Piece,
        source: (String, bool),
        start_ms: i64,
    ) -> bool {
        if self.tracks.as_ref().is_some_and(|first| *first != tracks) {
            self.cut_at = Some(start_ms);
            return false;
        }
        self.tracks.get_or_insert(tracks);
        self.pieces.push(piece);
        self.sources.push(source);
        true
    }
}

/// Reads every source's index; stops at the first configuration change. The files of
/// an MP4 or FLV range are indexed [`INDEX_READS`] at a time (on S3 each is a request or
/// two); an HLS recording's segments one after another.
async fn load(
    storage: &Storage,
    rows: &[&Recording],
    range: &TimeRange,
) -> Result<Loaded, Mp4Problem> {
    let mut loaded = Loaded::default();
    if rows.first().is_some_and(|r| r.format == "hls") {
        for row in rows {
            if !hls_index(storage, row, range, &mut loaded).await? {
                break;
            }
        }
        return Ok(loaded);
    }
    let owned: Vec<(u32, Recording)> = (0u32..).zip(rows.iter().map(|r| (*r).clone())).collect();
    let storage = storage.clone();
    let indexes: Vec<Result<FileIndex, Mp4Problem>> = stream::iter(owned)
        .map(move |(source, row)| {
            let storage = storage.clone();
            async move { file_index(&storage, &row, source).await }
        })
        .buffered(INDEX_READS)
        .collect()
        .await;
    for (row, index) in rows.iter().zip(indexes) {
        let (tracks, piece, changed) = index?;
        if !loaded.add(
            tracks,
            piece,
            (row.storage_path.clone(), false),
            row.start_ms,
        ) {
            break;
        }
        if changed.is_some() {
            loaded.cut_at = changed;
            break;
        }
    }
    Ok(loaded)
}

/// A file's tracks, samples, and where a configuration change inside it cut them.
type FileIndex = (Mp4Tracks, Piece, Option<i64>);

/// The index of an MP4 or FLV recording.
async fn file_index(
    storage: &Storage,
    row: &Recording,
    source: u32,
) -> Result<FileIndex, Mp4Problem> {
    if row.format == "mp4" {
        let (tracks, piece) = mp4_index(storage, row, source).await?;
        Ok((tracks, piece, None))
    } else {
        flv_index(storage, row, source).await
    }
}

/// An HLS recording's segments that overlap `range`, each a piece of its own (its
/// samples from its demuxed form, on the wall clock of its PROGRAM-DATE-TIME). False
/// when a configuration change cut the range.
async fn hls_index(
    storage: &Storage,
    row: &Recording,
    range: &TimeRange,
    loaded: &mut Loaded,
) -> Result<bool, Mp4Problem> {
    let text = storage
        .read(&row.storage_path)
        .await
        .map_err(storage_problem)?;
    let playlist = Playlist::parse(&String::from_utf8_lossy(&text))
        .map_err(|e| Mp4Problem::Empty(format!("{}: {e}", row.storage_path)))?;
    let dir = row.storage_path.rsplit_once('/').map_or("", |(d, _)| d);
    let times = playlist.program_date_times();
    // The fMP4 initialization section last read (segments share it until it changes).
    let mut init: Option<(String, Bytes)> = None;
    for (i, segment) in playlist.segments().iter().enumerate() {
        let start = times.get(i).copied().flatten().unwrap_or(row.start_ms);
        if !range.overlaps(start, start + segment.duration.as_millis()) {
            continue;
        }
        let uri = playlist.segment_uri(segment);
        if uri.contains('/') || uri.contains(':') {
            continue; // not one of liverec's own segments
        }
        let key = format!("{dir}/{uri}");
        let bytes = storage.read(&key).await.map_err(storage_problem)?;
        if let Some(map) = playlist.map_uri(segment) {
            if map.contains('/') || map.contains(':') {
                continue;
            }
            if init.as_ref().is_none_or(|(name, _)| name != map) {
                let read = storage.read(&format!("{dir}/{map}")).await;
                init = Some((map.to_owned(), read.map_err(storage_problem)?));
            }
            let init_bytes = init.as_ref().map(|(_, b)| b.as_ref()).unwrap_or_default();
            let (tracks, piece) = segment_samples(init_bytes, &bytes, loaded.next_source(), start)
                .map_err(|e| Mp4Problem::Empty(format!("{key}: {e}")))?;
            if !loaded.add(tracks, piece, (key, false), start) {
                return Ok(false);
            }
            continue;
        }
        let demuxed = demux_segment(&bytes, loaded.next_source(), start);
        let changed = demuxed.changed;
        if !loaded.add(demuxed.tracks, demuxed.piece, (key, true), start) {
            return Ok(false);
        }
        if changed {
            loaded.cut_at = Some(start + segment.duration.as_millis());
            return Ok(false);
        }
    }
    Ok(true)
}

fn storage_problem(e: StorageError) -> Mp4Problem {
    Mp4Problem::Storage(e.to_string())
}

async fn read_range(
    storage: &Storage,
    key: &str,
    range: std::ops::Range<u64>,
) -> Result<Bytes, Mp4Problem> {
    let result = storage
        .get(key, Some(range))
        .await
        .map_err(storage_problem)?;
    result
        .bytes()
        .await
        .map_err(|e| Mp4Problem::Storage(e.to_string()))
}

/// An MP4 recording's samples from its `moov`.
async fn mp4_index(
    storage: &Storage,
    row: &Recording,
    source: u32,
) -> Result<(Mp4Tracks, Piece), Mp4Problem> {
    let key = &row.storage_path;
    let size = storage.size(key).await.map_err(storage_problem)?;
    let head = read_range(storage, key, 0..size.min(HEAD_READ)).await?;
    let mut at = 0u64;
    while at + 8 <= size {
        let header = match head.get(at as usize..at as usize + 16) {
            Some(h) => Bytes::copy_from_slice(h),
            None => read_range(storage, key, at..(at + 16).min(size)).await?,
        };
        let (len, kind) =
            box_header(&header).ok_or_else(|| Mp4Problem::Empty(format!("{key}: not an MP4")))?;
        if &kind == b"moov" {
            if len > MAX_MOOV_BYTES {
                return Err(Mp4Problem::Empty(format!("{key}: moov too large")));
            }
            let moov = match head.get(at as usize..(at + len) as usize) {
                Some(m) => Bytes::copy_from_slice(m),
                None => read_range(storage, key, at..at + len).await?,
            };
            let mut cursor = std::io::Cursor::new(&moov[..]);
            let moov = <mp4_atom::Moov as mp4_atom::Decode>::decode(&mut cursor)
                .map_err(|e| Mp4Problem::Empty(format!("{key}: {e}")))?;
            return moov_samples(&moov, source, row.start_ms)
                .map_err(|e| Mp4Problem::Empty(format!("{key}: {e}")));
        }
        at += len.max(8);
    }
    Err(Mp4Problem::Empty(format!("{key}: no moov")))
}

/// An FLV recording's samples from its tags (the file streamed once).
async fn flv_index(
    storage: &Storage,
    row: &Recording,
    source: u32,
) -> Result<(Mp4Tracks, Piece, Option<i64>), Mp4Problem> {
    let (_, mut chunks) = storage
        .get_stream(&row.storage_path, None)
        .await
        .map_err(storage_problem)?;
    let mut demuxer = FlvDemuxer::new();
    let mut samples = FlvSamples::new(source, row.start_ms);
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(|e| Mp4Problem::Storage(e.to_string()))?;
        demuxer.push(&chunk);
        while let Ok(Some(tag)) = demuxer.pull() {
            samples.push_tag(&tag);
        }
    }
    Ok(samples.finish())
}

/// One read of the response body: head bytes, or a window of a source with the parts of
/// it to send.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Window {
    Head(std::ops::Range<usize>),
    Source {
        source: u32,
        offset: u64,
        len: u64,
        parts: Vec<(u64, u64)>,
    },
}

/// Groups reads of one source that lie close together into windows of at most
/// [`MAX_WINDOW`] bytes.
fn windows(reads: Vec<Read>) -> Vec<Window> {
    let mut out: Vec<Window> = Vec::new();
    for read in reads {
        match read {
            Read::Head(r) => out.push(Window::Head(r)),
            Read::Source {
                source,
                offset,
                len,
            } => {
                if let Some(Window::Source {
                    source: s,
                    offset: o,
                    len: l,
                    parts,
                }) = out.last_mut()
                {
                    let end = *o + *l;
                    if *s == source
                        && offset >= end
                        && offset - end <= MAX_GAP
                        && offset + len - *o <= MAX_WINDOW
                    {
                        parts.push((offset - *o, len));
                        *l = offset + len - *o;
                        continue;
                    }
                }
                out.push(Window::Source {
                    source,
                    offset,
                    len,
                    parts: vec![(0, len)],
                });
            }
        }
    }
    out
}

/// The last TS segment demuxed for a response (its windows come one after another).
type Demuxed = Option<(u32, Bytes)>;

/// The body of `range` of the file, streamed window by window.
fn body(storage: Storage, built: Arc<RangeMp4>, range: std::ops::Range<u64>) -> Body {
    let plan = windows(built.file.reads(range)).into_iter();
    let state = (plan, storage, built, None as Demuxed);
    let chunks = stream::unfold(state, |(mut plan, storage, built, mut last)| async move {
        let window = plan.next()?;
        let parts = fetch(&storage, &built, window, &mut last).await;
        Some((parts, (plan, storage, built, last)))
    });
    let flat = chunks.flat_map(|parts: Result<Vec<Bytes>, std::io::Error>| match parts {
        Ok(parts) => stream::iter(parts.into_iter().map(Ok).collect::<Vec<_>>()),
        Err(e) => stream::iter(vec![Err(e)]),
    });
    Body::from_stream(flat)
}

fn io_err(e: Mp4Problem) -> std::io::Error {
    std::io::Error::other(format!("{e:?}"))
}

/// The bytes of `window` of a source: a byte range of the object, or of a TS segment's
/// demuxed form (demuxed again, once per run of windows from it).
async fn source_bytes(
    storage: &Storage,
    built: &RangeMp4,
    (source, offset, len): (u32, u64, u64),
    last: &mut Demuxed,
) -> Result<Bytes, std::io::Error> {
    let (key, ts) = built
        .sources
        .get(source as usize)
        .ok_or_else(|| std::io::Error::other("no source"))?;
    if !ts {
        return read_range(storage, key, offset..offset + len)
            .await
            .map_err(io_err);
    }
    let demuxed = match last {
        Some((s, bytes)) if *s == source => bytes.clone(),
        _ => {
            let ts = storage
                .read(key)
                .await
                .map_err(|e| io_err(storage_problem(e)))?;
            let bytes = Bytes::from(demux_segment(&ts, source, 0).bytes);
            *last = Some((source, bytes.clone()));
            bytes
        }
    };
    let (a, b) = (
        usize::try_from(offset).unwrap_or(usize::MAX),
        usize::try_from(offset + len).unwrap_or(usize::MAX),
    );
    if b > demuxed.len() || a > b {
        return Err(std::io::Error::other(format!("{key}: its samples changed")));
    }
    Ok(demuxed.slice(a..b))
}

async fn fetch(
    storage: &Storage,
    built: &RangeMp4,
    window: Window,
    last: &mut Demuxed,
) -> Result<Vec<Bytes>, std::io::Error> {
    match window {
        Window::Head(r) => Ok(vec![Bytes::copy_from_slice(
            built.file.head.get(r).unwrap_or_default(),
        )]),
        Window::Source {
            source,
            offset,
            len,
            parts,
        } => {
            let bytes = source_bytes(storage, built, (source, offset, len), last).await?;
            Ok(parts
                .into_iter()
                .filter_map(|(at, n)| {
                    let (a, b) = (usize::try_from(at).ok()?, usize::try_from(at + n).ok()?);
                    (b <= bytes.len()).then(|| bytes.slice(a..b))
                })
                .collect())
        }
    }
}

/// Writes the whole of `built` into the file at `path` (a clip), window by window;
/// returns its length.
pub async fn write_file(
    storage: &Storage,
    built: Arc<RangeMp4>,
    path: &std::path::Path,
) -> std::io::Result<u64> {
    use tokio::io::AsyncWriteExt;
    let mut file = tokio::fs::File::create(path).await?;
    let mut last = None;
    for window in windows(built.file.reads(0..built.file.len)) {
        for part in fetch(storage, &built, window, &mut last).await? {
            file.write_all(&part).await?;
        }
    }
    file.flush().await?;
    file.sync_all().await?;
    Ok(built.file.len)
}

/// The response to a request for `built` (single `Range` requests answered with 206).
pub fn respond(
    storage: &Storage,
    built: Arc<RangeMp4>,
    headers: &HeaderMap,
    next: Option<String>,
) -> Response {
    let size = built.file.len;
    let range = match super::vod::requested_range(headers, size) {
        Ok(range) => range,
        Err(refusal) => return *refusal,
    };
    let served = range.clone().unwrap_or(0..size);
    let cut_at = built.cut_at;
    let mut response = Response::new(body(storage.clone(), built, served.clone()));
    super::vod::set_range_headers(&mut response, "video/mp4", range.is_some(), served, size);
    let h = response.headers_mut();
    if let Some(cut) = cut_at {
        if let Ok(v) = HeaderValue::from_str(&encode_date_time(cut)) {
            h.insert("liverec-cut-at", v);
        }
        if let Some(v) = next.and_then(|n| HeaderValue::from_str(&n).ok()) {
            h.insert("liverec-next", v);
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_reads_of_one_source_share_a_window() {
        let reads = vec![
            Read::Head(0..10),
            Read::Source {
                source: 0,
                offset: 100,
                len: 50,
            },
            Read::Source {
                source: 0,
                offset: 161,
                len: 50,
            },
            Read::Source {
                source: 1,
                offset: 0,
                len: 10,
            },
            Read::Source {
                source: 1,
                offset: 10 + MAX_GAP + 1,
                len: 10,
            },
            Read::Source {
                source: 1,
                offset: 20 + 2 * MAX_GAP,
                len: MAX_WINDOW,
            },
        ];
        let w = windows(reads);
        assert_eq!(w.len(), 5, "{w:?}");
        assert_eq!(
            w[1],
            Window::Source {
                source: 0,
                offset: 100,
                len: 111,
                parts: vec![(0, 50), (61, 50)]
            }
        );
    }
}
