//! Start-up recovery of recordings a crash (kill -9, power loss) left in scratch space.
//!
//! Every scratch file has a sidecar ([`Sidecar`]) naming its stream and output. At start,
//! before any push is accepted, each one is made playable, committed, indexed and
//! announced like a file that closed normally:
//! - FLV: tags up to the last complete one are re-muxed through [`FlvWriter`], which
//!   writes the `onMetaData` duration and keyframe index.
//! - MP4: cut after the last complete `moof`+`mdat` fragment (ISO/IEC 14496-12 §8.8) —
//!   fragments are ~1 s, so at most about one second is lost — then finished moov-first
//!   like a file that closed ([`crate::formats::mp4::progressive`]): its tables read back
//!   from the fragments, the room reserved for the moov used in place when it fits the
//!   recorded length, else the file rebuilt without it (a file cut short by a crash
//!   would otherwise carry megabytes of room). Should that fail it stays fragmented,
//!   which plays too. A file whose finish in place was interrupted after its final
//!   `moov` went in is completed instead: the initialization `moov` and the `moof`s left
//!   become `free` boxes.
//! - AAC: cut after the last complete ADTS frame (ISO/IEC 14496-3 §1.A.2.2).
//! - HLS: the open segment is cut to whole 188-byte TS packets and committed, then the
//!   recording is finalised from its growing playlist (an interrupted splice wait is
//!   finalised too: the push cannot come back to a process that died).
//!
//! The end time of a recovered file is the scratch file's modification time (its last
//! write), which is what the index and the callback report. What cannot be recovered is
//! moved to `DATA/.failed/` with its sidecar, never deleted.

use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::sync::Arc;

mod mp4;

use mp4::{
    finish_recovered_mp4, mp4_complete_prefix, mp4_finish_interrupted, segment_complete_prefix,
};

use super::error::DataError;
use super::publish::{finish_hls, index_and_announce, store_final};
use super::stream::{hls_sidecar_name, Sidecar};
use super::DataPlane;
use crate::config::template::Format;
use crate::formats::flv::demux::FlvDemuxer;
use crate::formats::hls::playlist::Playlist;
use crate::formats::hls::writer::{RecordedSegment, RecordingPlaylist};
use crate::formats::hls::Micros;
use crate::record::flv::{FlvEvent, FlvWriter};
use crate::record::session::{
    extension, file_name, init_name, live_playlist_name, segment_seq, DoneFile,
};
use crate::storage::scratch::ScratchFile;

/// Where what could not be recovered is kept (under the data directory) for a person to
/// look at, instead of being deleted.
pub const FAILED_DIR: &str = ".failed";

fn quarantine(app: &DataPlane, sidecar_name: &str, s: &Sidecar) {
    let dir = app.storage.scratch_dir().with_file_name(FAILED_DIR);
    let _ = std::fs::create_dir_all(&dir);
    let mut names = vec![sidecar_name.to_owned()];
    if !s.scratch_name.is_empty() {
        names.push(s.scratch_name.clone());
    }
    for name in names {
        let from = app.storage.scratch_path(&name);
        if from.exists() {
            let _ = std::fs::rename(&from, dir.join(&name));
        }
    }
}

/// MPEG-TS packet size.
const TS_PACKET: u64 = 188;

/// Recovers every interrupted recording; errors are logged per file.
pub async fn recover(app: &Arc<DataPlane>) {
    let dir = app.storage.scratch_dir();
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return;
    };
    let mut sidecars: Vec<String> = entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.ends_with(".json"))
        .collect();
    sidecars.sort();
    for name in sidecars {
        let path = dir.join(&name);
        let sidecar: Sidecar = match std::fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
        {
            Some(s) => s,
            None => {
                tracing::warn!(file = %path.display(), "recovery: unreadable sidecar removed");
                let _ = std::fs::remove_file(&path);
                continue;
            }
        };
        let result = if sidecar.spec.format == Format::Hls {
            recover_hls(app, &sidecar).await
        } else {
            recover_file(app, &sidecar).await
        };
        match result {
            Ok(()) => {
                tracing::info!(stream = %sidecar.stream.key(), file = %sidecar.file_id,
                    "recovered an interrupted recording");
                let _ = std::fs::remove_file(&path);
            }
            Err(e) => {
                tracing::error!(stream = %sidecar.stream.key(), file = %sidecar.file_id, error = %e,
                    "recovery failed; kept in {FAILED_DIR}/");
                quarantine(app, &name, &sidecar);
            }
        }
    }
    // Anything left in scratch space has no sidecar: nothing can be said about it.
    if let Ok(entries) = std::fs::read_dir(&dir) {
        for entry in entries.filter_map(Result::ok) {
            tracing::warn!(file = %entry.path().display(), "recovery: orphan scratch file removed");
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

fn modified_ms(path: &Path) -> Option<i64> {
    let modified = std::fs::metadata(path).ok()?.modified().ok()?;
    let since = modified.duration_since(std::time::UNIX_EPOCH).ok()?;
    Some(since.as_millis() as i64)
}

async fn recover_file(app: &Arc<DataPlane>, s: &Sidecar) -> Result<(), DataError> {
    let path = app.storage.scratch_path(&s.scratch_name);
    if !path.exists() {
        return match s.committing {
            // Indexed, then its scratch copy removed: only the sidecar was left.
            Some(_) => Ok(()),
            None => Err(DataError::ScratchGone(s.scratch_name.clone())),
        };
    }
    let done = match &s.committing {
        // Finished and on its way into the store: the copy is resumed or redone.
        Some(c) => c.done.clone(),
        None => match finish_interrupted(&path, s)? {
            Some(done) => done,
            None => {
                // Interrupted before its first complete frame: nothing to keep.
                let _ = std::fs::remove_file(&path);
                return Ok(());
            }
        },
    };
    let mut s = s.clone();
    let key = store_final(app, &mut s, &done).await?;
    index_and_announce(app, &s.stream, &s.spec, &s.file_id, &key, &done).await?;
    app.storage.remove_scratch(&s.scratch_name)?;
    Ok(())
}

/// Makes an interrupted scratch file playable; its facts, or `None` when it holds no
/// complete frame.
fn finish_interrupted(path: &Path, s: &Sidecar) -> Result<Option<DoneFile>, DataError> {
    let end_ms = modified_ms(path).unwrap_or(s.opened_ms).max(s.opened_ms);
    let duration_ms = make_playable(path, s.spec.format)
        .map_err(DataError::io(format!("recovering {}", path.display())))?
        .unwrap_or(end_ms - s.opened_ms);
    let bytes = std::fs::metadata(path)
        .map_err(DataError::io(format!("reading {}", path.display())))?
        .len();
    if bytes == 0 {
        return Ok(None);
    }
    let start = s.opened_ms;
    let end = start + duration_ms;
    let name = file_name(
        &s.spec,
        &s.stream.stream,
        start,
        end,
        extension(s.spec.format),
    );
    Ok(Some(DoneFile {
        name,
        start_wall_ms: start,
        end_wall_ms: end,
        duration_ms,
        bytes,
        frames: 0,
        media: s.media.clone(),
        media_start_ms: 0,
    }))
}

/// Cuts an interrupted file of `format` to what plays and finishes it; the media
/// duration when the format tells it (FLV).
fn make_playable(path: &Path, format: Format) -> std::io::Result<Option<i64>> {
    match format {
        Format::Flv => return remux_flv(path),
        Format::Mp4 => {
            if !mp4_finish_interrupted(path)? {
                truncate(path, mp4_complete_prefix(path)?)?;
                if let Err(e) = finish_recovered_mp4(path) {
                    tracing::warn!(file = %path.display(), error = %e, "recovery: MP4 kept fragmented");
                }
            }
        }
        Format::Aac => truncate(path, adts_complete_prefix(path)?)?,
        Format::Hls => {}
    }
    Ok(None)
}

/// An HLS recording being put back together: its segments, duration and bytes.
pub(super) struct Rebuilt {
    pub(super) playlist: RecordingPlaylist,
    duration_ms: i64,
    bytes: u64,
    /// Bytes of each segment, in order.
    pub(super) sizes: Vec<u64>,
}

impl Rebuilt {
    fn push(&mut self, segment: RecordedSegment, bytes: u64) {
        self.duration_ms += segment.duration.as_millis();
        self.bytes += bytes;
        self.sizes.push(bytes);
        self.playlist.push(segment);
    }
}

async fn recover_hls(app: &Arc<DataPlane>, s: &Sidecar) -> Result<(), DataError> {
    let rid = &s.spec.recording_id;
    let node = match s.node.as_str() {
        "" => app.settings.node_id.as_str(),
        node => node,
    };
    if !super::handover::take_as(app, rid, node).await {
        // Another node continued or finished it meanwhile (from what the store holds).
        tracing::info!(recording = %rid, "recovery: HLS recording taken over by another node");
        for name in scratch_segments(app, rid)? {
            let _ = std::fs::remove_file(app.storage.scratch_path(&name));
        }
        let _ = std::fs::remove_file(app.storage.scratch_path(&hls_sidecar_name(rid)));
        return Ok(());
    }
    let live = format!("{}/{}", s.stream.dir(), live_playlist_name(rid));
    let mut rebuilt = listed_segments(app, &s.stream.dir(), &live).await?;
    commit_open_segments(app, s, &mut rebuilt).await?;
    if rebuilt.playlist.segments().is_empty() {
        let _ = app.storage.delete(&live).await;
        let _ = std::fs::remove_file(app.storage.scratch_path(&hls_sidecar_name(rid)));
        return Ok(()); // interrupted before its first segment: nothing to keep
    }
    let start = s.opened_ms;
    let end = start + rebuilt.duration_ms;
    let done = DoneFile {
        name: file_name(&s.spec, &s.stream.stream, start, end, "m3u8"),
        start_wall_ms: start,
        end_wall_ms: end,
        duration_ms: rebuilt.duration_ms,
        bytes: rebuilt.bytes,
        frames: 0,
        media: s.media.clone(),
        media_start_ms: 0,
    };
    finish_hls(
        app,
        &s.stream,
        &s.spec,
        &done,
        rebuilt.playlist.render(true),
    )
    .await
}

/// The segments the growing playlist `live` lists (none when it was never stored).
pub(super) async fn listed_segments(
    app: &DataPlane,
    dir: &str,
    live: &str,
) -> Result<Rebuilt, DataError> {
    let mut rebuilt = Rebuilt {
        playlist: RecordingPlaylist::new(),
        duration_ms: 0,
        bytes: 0,
        sizes: Vec::new(),
    };
    let Ok(text) = app.storage.read(live).await else {
        return Ok(rebuilt);
    };
    let text = String::from_utf8_lossy(&text).into_owned();
    let parsed = Playlist::parse(&text).map_err(|e| DataError::Playlist {
        path: live.to_owned(),
        message: e.to_string(),
    })?;
    for segment in parsed.segments() {
        let uri = parsed.segment_uri(segment).to_owned();
        let bytes = app.storage.size(&format!("{dir}/{uri}")).await.unwrap_or(0);
        let listed = RecordedSegment {
            uri,
            duration: segment.duration,
            program_date_time_ms: segment.program_date_time_ms,
            discontinuity: segment.discontinuity,
            map: parsed.map_uri(segment).map(str::to_owned),
        };
        rebuilt.push(listed, bytes);
    }
    Ok(rebuilt)
}

/// Commits the segment being written, if any, cut to whole TS packets; it lasts from the
/// end of the last listed one to its last write.
async fn commit_open_segments(
    app: &DataPlane,
    s: &Sidecar,
    rebuilt: &mut Rebuilt,
) -> Result<(), DataError> {
    let scratch = scratch_segments(app, &s.spec.recording_id)?;
    let last_end = rebuilt
        .playlist
        .segments()
        .iter()
        .fold(s.opened_ms, |cursor, seg| {
            seg.program_date_time_ms.unwrap_or(cursor) + seg.duration.as_millis()
        });
    let dir = s.stream.dir();
    for name in scratch {
        let path = app.storage.scratch_path(&name);
        let io = || DataError::io(format!("recovering {}", path.display()));
        let fmp4 = name.ends_with(".m4s");
        let whole = if fmp4 {
            segment_complete_prefix(&path).map_err(io())?
        } else {
            let len = std::fs::metadata(&path).map_err(io())?.len();
            len - len % TS_PACKET
        };
        let map = if fmp4 {
            open_segment_map(app, &dir, &s.spec.recording_id, &name, &rebuilt.playlist).await
        } else {
            None
        };
        if whole == 0 || (fmp4 && map.is_none()) {
            let _ = std::fs::remove_file(&path);
            continue;
        }
        // The last write time, read before the truncation changes it.
        let end = modified_ms(&path).unwrap_or(last_end);
        truncate(&path, whole).map_err(io())?;
        app.storage.commit_exact(&name, &dir, &name).await?;
        let segment = RecordedSegment {
            uri: name,
            duration: Micros::from_millis((end - last_end).clamp(0, 60_000)),
            program_date_time_ms: None,
            discontinuity: false,
            map,
        };
        rebuilt.push(segment, whole);
    }
    Ok(())
}

/// The scratch segments of HLS recording `recording_id`.
/// The initialization section of fMP4 segment `name` being written when the process
/// died: its own, when one was stored for it (the tracks changed there), else the last
/// listed segment's.
async fn open_segment_map(
    app: &DataPlane,
    dir: &str,
    recording_id: &str,
    name: &str,
    listed: &RecordingPlaylist,
) -> Option<String> {
    let seq = segment_seq(recording_id, name)?;
    let own = init_name(recording_id, seq);
    if app.storage.size(&format!("{dir}/{own}")).await.is_ok() {
        return Some(own);
    }
    listed.segments().last().and_then(|s| s.map.clone())
}

fn scratch_segments(app: &DataPlane, recording_id: &str) -> Result<Vec<String>, DataError> {
    let scratch_dir = app.storage.scratch_dir();
    let prefix = format!("{recording_id}_");
    Ok(std::fs::read_dir(&scratch_dir)
        .map_err(DataError::io(format!("listing {}", scratch_dir.display())))?
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.starts_with(&prefix) && (n.ends_with(".ts") || n.ends_with(".m4s")))
        .collect())
}

fn truncate(path: &Path, len: u64) -> std::io::Result<()> {
    std::fs::OpenOptions::new()
        .write(true)
        .open(path)?
        .set_len(len)
}

/// Length of the ADTS prefix made of complete frames.
fn adts_complete_prefix(path: &Path) -> std::io::Result<u64> {
    let file = File::open(path)?;
    let len = file.metadata()?.len();
    crate::formats::adts::complete_prefix(len, |at, buf| read_at(&file, at, buf))
}

/// Reads up to `buf.len()` bytes at `offset` (fewer at the end of the file).
pub(crate) fn read_at(file: &File, offset: u64, buf: &mut [u8]) -> std::io::Result<usize> {
    use std::os::unix::fs::FileExt;
    let mut filled = 0;
    while filled < buf.len() {
        let Some(rest) = buf.get_mut(filled..) else {
            break;
        };
        match file.read_at(rest, offset + filled as u64) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Re-muxes an FLV scratch file's complete tags through [`FlvWriter`] (duration and
/// keyframe index); returns the media duration, ms.
fn remux_flv(path: &Path) -> std::io::Result<Option<i64>> {
    let temp = path.with_extension("recovering");
    let mut input = File::open(path)?;
    let mut out = ScratchFile::create(temp.clone(), 1024 * 1024)?;
    let mut demuxer = FlvDemuxer::new();
    let mut writer = FlvWriter::new(None, 3600, true, true).with_jump_threshold(i64::MAX);
    let mut events = Vec::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut duration = None;
    let mut done = false;
    while !done {
        let n = input.read(&mut buf)?;
        done = n == 0;
        demuxer.push(buf.get(..n).unwrap_or_default());
        loop {
            let tag = if done {
                demuxer.pull_final()
            } else {
                demuxer.pull()
            };
            let Ok(Some(tag)) = tag else { break };
            writer.push(&tag, &mut events);
            apply_flv(&mut out, &mut events, &mut duration)?;
        }
    }
    writer.finish(&mut events);
    apply_flv(&mut out, &mut events, &mut duration)?;
    out.close()?;
    std::fs::rename(&temp, path)?;
    Ok(duration)
}

fn apply_flv(
    out: &mut ScratchFile,
    events: &mut Vec<FlvEvent>,
    duration: &mut Option<i64>,
) -> std::io::Result<()> {
    for event in events.drain(..) {
        match event {
            FlvEvent::Open { .. } => {}
            FlvEvent::Data(bytes) => out.append(&bytes)?,
            FlvEvent::Patch { offset, bytes } => out.patch(offset, &bytes)?,
            FlvEvent::Rewrite { head, replace } => out.rewrite_head(&head, replace)?,
            FlvEvent::Close(info) => *duration = Some(info.end_ms - info.start_ms),
        }
    }
    Ok(())
}
