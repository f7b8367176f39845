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
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::Arc;

use super::recorder::{finish_hls, index_and_announce};
use super::stream::{hls_sidecar_name, Sidecar};
use super::state::AppState;
use crate::config::template::Format;
use crate::formats::flv::demux::FlvDemuxer;
use crate::formats::hls::playlist::Playlist;
use crate::formats::hls::writer::{RecordedSegment, RecordingPlaylist};
use crate::formats::hls::Micros;
use crate::record::flv::{FlvEvent, FlvWriter};
use crate::record::session::{extension, file_name, live_playlist_name, DoneFile};
use crate::storage::scratch::ScratchFile;

/// Where what could not be recovered is kept (under the data directory) for a person to
/// look at, instead of being deleted.
pub const FAILED_DIR: &str = ".failed";

fn quarantine(app: &AppState, sidecar_name: &str, s: &Sidecar) {
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
pub async fn recover(app: &Arc<AppState>) {
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

async fn recover_file(app: &Arc<AppState>, s: &Sidecar) -> Result<(), String> {
    let path = app.storage.scratch_path(&s.scratch_name);
    if !path.exists() {
        return Err("the scratch file is gone (it was committed before the crash)".into());
    }
    let end_ms = modified_ms(&path).unwrap_or(s.opened_ms).max(s.opened_ms);
    let io = |e: std::io::Error| e.to_string();
    let mut duration_ms = end_ms - s.opened_ms;
    match s.spec.format {
        Format::Flv => duration_ms = remux_flv(&path).map_err(io)?.unwrap_or(duration_ms),
        Format::Mp4 => {
            if !mp4_finish_interrupted(&path).map_err(io)? {
                truncate(&path, mp4_complete_prefix(&path).map_err(io)?).map_err(io)?;
                if let Err(e) = finish_recovered_mp4(&path) {
                    tracing::warn!(file = %path.display(), error = %e, "recovery: MP4 kept fragmented");
                }
            }
        }
        Format::Aac => truncate(&path, adts_complete_prefix(&path).map_err(io)?).map_err(io)?,
        Format::Hls => {}
    }
    let bytes = std::fs::metadata(&path).map_err(io)?.len();
    if bytes == 0 {
        // Interrupted before its first complete frame: nothing to keep.
        let _ = std::fs::remove_file(&path);
        return Ok(());
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
    let key = app
        .storage
        .commit(&s.scratch_name, &s.stream.dir(), &name)
        .await
        .map_err(|e| e.to_string())?;
    let done = DoneFile {
        name,
        start_wall_ms: start,
        end_wall_ms: end,
        duration_ms,
        bytes,
        frames: 0,
        media: s.media.clone(),
        media_start_ms: 0,
    };
    index_and_announce(app, &s.stream, &s.spec, &s.file_id, &key, &done).await
}

async fn recover_hls(app: &Arc<AppState>, s: &Sidecar) -> Result<(), String> {
    let rid = &s.spec.recording_id;
    let dir = s.stream.dir();
    let live = format!("{dir}/{}", live_playlist_name(rid));
    let mut playlist = RecordingPlaylist::new();
    let mut duration_ms = 0;
    let mut bytes = 0;
    if let Ok(text) = app.storage.read(&live).await {
        let text = String::from_utf8_lossy(&text).into_owned();
        let parsed = Playlist::parse(&text).map_err(|e| format!("{live}: {e}"))?;
        for segment in parsed.segments() {
            let uri = parsed.segment_uri(segment).to_owned();
            bytes += app.storage.size(&format!("{dir}/{uri}")).await.unwrap_or(0);
            duration_ms += segment.duration.as_millis();
            playlist.push(RecordedSegment {
                uri,
                duration: segment.duration,
                program_date_time_ms: segment.program_date_time_ms,
                discontinuity: segment.discontinuity,
            });
        }
    }
    // The segment being written, if any: whole TS packets only.
    let prefix = format!("{rid}_");
    let scratch: Vec<String> = std::fs::read_dir(app.storage.scratch_dir())
        .map_err(|e| e.to_string())?
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.starts_with(&prefix) && n.ends_with(".ts"))
        .collect();
    // Where the recovered segment starts: after the last listed one.
    let last_end = playlist.segments().iter().fold(s.opened_ms, |cursor, seg| {
        seg.program_date_time_ms.unwrap_or(cursor) + seg.duration.as_millis()
    });
    for name in scratch {
        let path = app.storage.scratch_path(&name);
        let len = std::fs::metadata(&path).map_err(|e| e.to_string())?.len();
        let whole = len - len % TS_PACKET;
        if whole == 0 {
            let _ = std::fs::remove_file(&path);
            continue;
        }
        // The last write time, read before the truncation changes it.
        let end = modified_ms(&path).unwrap_or(last_end);
        truncate(&path, whole).map_err(|e| e.to_string())?;
        let seconds = Micros::from_millis((end - last_end).clamp(0, 60_000));
        app.storage
            .commit(&name, &dir, &name)
            .await
            .map_err(|e| e.to_string())?;
        duration_ms += seconds.as_millis();
        bytes += whole;
        playlist.push(RecordedSegment {
            uri: name,
            duration: seconds,
            program_date_time_ms: None,
            discontinuity: false,
        });
    }
    if playlist.segments().is_empty() {
        let _ = app.storage.delete(&live).await;
        let _ = std::fs::remove_file(app.storage.scratch_path(&hls_sidecar_name(rid)));
        return Ok(()); // interrupted before its first segment: nothing to keep
    }
    let start = s.opened_ms;
    let end = start + duration_ms;
    let done = DoneFile {
        name: file_name(&s.spec, &s.stream.stream, start, end, "m3u8"),
        start_wall_ms: start,
        end_wall_ms: end,
        duration_ms,
        bytes,
        frames: 0,
        media: s.media.clone(),
        media_start_ms: 0,
    };
    finish_hls(app, &s.stream, &s.spec, &done, playlist.render(true)).await
}

fn truncate(path: &Path, len: u64) -> std::io::Result<()> {
    std::fs::OpenOptions::new()
        .write(true)
        .open(path)?
        .set_len(len)
}

/// Top-level boxes of an MP4 file that lie wholly inside it: (offset, size, type).
fn mp4_boxes(file: &mut File, from: u64, to: u64) -> std::io::Result<Vec<(u64, u64, [u8; 4])>> {
    let mut boxes = Vec::new();
    let mut at = from;
    let mut header = Vec::with_capacity(16);
    while at + 8 <= to {
        file.seek(SeekFrom::Start(at))?;
        header.clear();
        let n = (&mut *file).take(16).read_to_end(&mut header)?;
        let Some(header) = header.get(..16.min(n)).filter(|h| h.len() >= 8) else {
            break;
        };
        let header: [u8; 16] = std::array::from_fn(|i| header.get(i).copied().unwrap_or(0));
        let small = u64::from(u32::from_be_bytes([
            header[0], header[1], header[2], header[3],
        ]));
        let size = match small {
            1 if n >= 16 => u64::from_be_bytes([
                header[8], header[9], header[10], header[11], header[12], header[13], header[14],
                header[15],
            ]),
            0 | 1 => break,
            s => s,
        };
        match at.checked_add(size) {
            Some(end) if size >= 8 && end <= to => {
                boxes.push((at, size, [header[4], header[5], header[6], header[7]]));
                at = end;
            }
            _ => break,
        }
    }
    Ok(boxes)
}

/// Completes an MP4 whose finish in place stopped after its final `moov` went in: the
/// first `moov` has no `mvex`, yet an initialization `moov` or `moof`s follow. They
/// become `free` (4 bytes each). Returns whether the file was such a one.
pub fn mp4_finish_interrupted(path: &Path) -> std::io::Result<bool> {
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)?;
    let len = file.metadata()?.len();
    let boxes = mp4_boxes(&mut file, 0, len)?;
    let Some(first) = boxes.iter().position(|b| &b.2 == b"moov") else {
        return Ok(false);
    };
    let mut later = boxes.iter().skip(first);
    let Some(&(offset, size, _)) = later.next() else {
        return Ok(false);
    };
    let children = mp4_boxes(&mut file, offset + 8, offset + size)?;
    if children.iter().any(|c| &c.2 == b"mvex") {
        return Ok(false);
    }
    let later: Vec<_> = later.collect();
    if later.iter().all(|b| &b.2 != b"moov" && &b.2 != b"moof") {
        return Ok(false);
    }
    // The finish makes the new moov durable before its header; should a torn one show
    // up all the same, the file goes back to its fragmented form.
    if !mp4_moov_reads(&mut file, offset, size)? {
        // The room ran up to the initialization moov.
        if let Some(init) = later.iter().find(|b| &b.2 == b"moov") {
            let room = u32::try_from(init.0 - offset).unwrap_or(u32::MAX);
            let mut header = room.to_be_bytes().to_vec();
            header.extend_from_slice(b"free");
            file.seek(SeekFrom::Start(offset))?;
            std::io::Write::write_all(&mut file, &header)?;
        }
        return Ok(false);
    }
    let rest: Vec<u64> = later
        .into_iter()
        .filter(|b| &b.2 == b"moov" || &b.2 == b"moof")
        .map(|b| b.0)
        .collect();
    for at in &rest {
        file.seek(SeekFrom::Start(at + 4))?;
        std::io::Write::write_all(&mut file, b"free")?;
    }
    Ok(!rest.is_empty())
}

/// Finishes a fragmented MP4 of ours moov-first: tracks from its initialization `moov`,
/// fragments from its `moof`+`mdat` pairs, the room after `ftyp` when there is one.
pub fn finish_recovered_mp4(path: &Path) -> std::io::Result<()> {
    use crate::formats::mp4::{tracks_of_moov, FragmentRef, Mp4Finish, Room};
    let invalid = |what: String| std::io::Error::new(std::io::ErrorKind::InvalidData, what);
    let mut file = File::open(path)?;
    let len = file.metadata()?.len();
    let boxes = mp4_boxes(&mut file, 0, len)?;
    let at = boxes
        .iter()
        .position(|b| &b.2 == b"moov")
        .ok_or_else(|| invalid("no moov".into()))?;
    let &(moov_offset, moov_size, _) = boxes.get(at).ok_or_else(|| invalid("no moov".into()))?;
    let room = match (at, boxes.get(1)) {
        (2, Some(&(offset, size, kind))) if &kind == b"free" => Some(Room {
            offset,
            len: size,
            init_moov: moov_offset,
        }),
        _ => None,
    };
    let mut bytes = Vec::new();
    file.seek(SeekFrom::Start(moov_offset))?;
    (&mut file).take(moov_size).read_to_end(&mut bytes)?;
    let moov = <mp4_atom::Moov as mp4_atom::Decode>::decode(&mut bytes.as_slice())
        .map_err(|e| invalid(format!("moov: {e}")))?;
    let tracks = tracks_of_moov(&moov).map_err(|e| invalid(e.to_string()))?;
    let mut fragments = Vec::new();
    for pair in boxes.get(at + 1..).unwrap_or_default().windows(2) {
        if let [(moof_offset, moof_len, moof), (_, mdat_len, mdat)] = pair {
            if moof == b"moof" && mdat == b"mdat" {
                fragments.push(FragmentRef {
                    moof_offset: *moof_offset,
                    moof_len: u32::try_from(*moof_len).map_err(|_| invalid("moof size".into()))?,
                    payload_len: mdat_len.saturating_sub(8),
                });
            }
        }
    }
    if fragments.is_empty() {
        return Ok(());
    }
    drop(file);
    let mut scratch = ScratchFile::open(path.to_owned(), 1024 * 1024)?;
    scratch.finish_mp4(Mp4Finish::new(tracks, fragments, room))?;
    scratch.close().map(|_| ())
}

/// Whether the `moov` at `offset` decodes, with at least one track.
fn mp4_moov_reads(file: &mut File, offset: u64, size: u64) -> std::io::Result<bool> {
    let mut bytes = Vec::new();
    file.seek(SeekFrom::Start(offset))?;
    (&mut *file).take(size).read_to_end(&mut bytes)?;
    let moov = <mp4_atom::Moov as mp4_atom::Decode>::decode(&mut bytes.as_slice());
    Ok(moov.is_ok_and(|m| !m.trak.is_empty()))
}

/// Length of the MP4 prefix that ends with a complete fragment (or 0).
pub fn mp4_complete_prefix(path: &Path) -> std::io::Result<u64> {
    let mut file = File::open(path)?;
    let len = file.metadata()?.len();
    let (mut at, mut good, mut moov) = (0u64, 0u64, false);
    let mut header = [0u8; 16];
    while at + 8 <= len {
        file.seek(SeekFrom::Start(at))?;
        let n = file.read(&mut header)?;
        let small = u64::from(u32::from_be_bytes([
            header[0], header[1], header[2], header[3],
        ]));
        let kind = [header[4], header[5], header[6], header[7]];
        let size = match small {
            1 if n >= 16 => u64::from_be_bytes([
                header[8], header[9], header[10], header[11], header[12], header[13], header[14],
                header[15],
            ]),
            0 | 1 => break, // to end of file: still being written
            s => s,
        };
        match at.checked_add(size) {
            Some(end) if size >= 8 && end <= len => at = end,
            _ => break,
        }
        match &kind {
            b"moov" => moov = true,
            b"mdat" if moov => good = at,
            _ => {}
        }
    }
    Ok(good)
}

/// Length of the ADTS prefix made of complete frames.
pub fn adts_complete_prefix(path: &Path) -> std::io::Result<u64> {
    let mut file = BufReader::new(File::open(path)?);
    let len = file.get_ref().metadata()?.len();
    let mut at = 0u64;
    let mut header = [0u8; 7];
    while at + 7 <= len {
        file.seek(SeekFrom::Start(at))?;
        file.read_exact(&mut header)?;
        if header[0] != 0xFF || header[1] & 0xF0 != 0xF0 {
            break;
        }
        let frame = (u64::from(header[3] & 0x03) << 11)
            | (u64::from(header[4]) << 3)
            | u64::from(header[5] >> 5);
        if frame < 7 || at + frame > len {
            break;
        }
        at += frame;
    }
    Ok(at)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::mp4::progressive::finish_in_memory;
    use crate::formats::mp4::test_support::audio_file;
    use crate::formats::mp4::MoovRoom;

    /// A fragmented audio file with room for its moov, and its finished form.
    fn files() -> (Vec<u8>, Vec<u8>, u64, u64) {
        let room = MoovRoom {
            max_ms: Some(20_000),
            input_bytes: None,
        };
        let (fragmented, finish) = audio_file(400, room, |_| 12);
        let done = finish_in_memory(fragmented.clone(), finish).unwrap();
        let offset = 28u64;
        let len = u64::from(u32::from_be_bytes(fragmented[28..32].try_into().unwrap()));
        (fragmented, done, offset, len)
    }

    /// A fragmented file a crash left is finished like one that closed: the same bytes
    /// as the finish the recorder would have done; with room far too large for what was
    /// recorded (a 20-minute interval cut short), rebuilt without it.
    #[test]
    fn recovered_mp4_is_finished_moov_first_with_the_room_trimmed() {
        let dir = std::env::temp_dir().join(format!("liverec-recover-trim-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("f.mp4");
        let (fragmented, done, _, _) = files();
        std::fs::write(&path, &fragmented).unwrap();
        finish_recovered_mp4(&path).unwrap();
        assert!(
            std::fs::read(&path).unwrap() == done,
            "as the recorder finishes it"
        );
        let room = MoovRoom {
            max_ms: Some(20 * 60_000),
            input_bytes: None,
        };
        let (fragmented, finish) = audio_file(400, room, |_| 12);
        let room_bytes = u64::from(u32::from_be_bytes(fragmented[28..32].try_into().unwrap()));
        assert!(room_bytes > 100_000, "{room_bytes}");
        std::fs::write(&path, &fragmented).unwrap();
        finish_recovered_mp4(&path).unwrap();
        let recovered = std::fs::read(&path).unwrap();
        assert!(recovered == finish_in_memory(fragmented.clone(), finish).unwrap());
        assert_eq!(&recovered[32..36], b"moov", "moov right after ftyp");
        assert!((recovered.len() as u64) < fragmented.len() as u64 - room_bytes + 4096);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_interrupted_in_place_finish_is_completed() {
        let (fragmented, done, offset, len) = files();
        assert_eq!(&fragmented[32..36], b"free", "room reserved");
        // Killed after the new moov went in, before the old boxes were freed.
        let mut interrupted = fragmented.clone();
        let (a, b) = (offset as usize, (offset + len) as usize);
        interrupted[a..b].copy_from_slice(&done[a..b]);
        let dir = std::env::temp_dir().join(format!("liverec-recover-mp4-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("f.mp4");
        std::fs::write(&path, &interrupted).unwrap();
        assert!(mp4_finish_interrupted(&path).unwrap());
        assert!(
            std::fs::read(&path).unwrap() == done,
            "completed as the finish would"
        );
        // A torn moov (its header and the room's rest in, its tables not): back to the
        // fragmented form.
        let mut torn = fragmented.clone();
        torn[a..a + 8].copy_from_slice(&done[a..a + 8]);
        let moov_len = u32::from_be_bytes(done[a..a + 4].try_into().unwrap()) as usize;
        torn[a + moov_len..a + moov_len + 8].copy_from_slice(&done[a + moov_len..a + moov_len + 8]);
        torn[a + 8..a + 16].copy_from_slice(b"\0\0\0\0stbl");
        std::fs::write(&path, &torn).unwrap();
        assert!(!mp4_finish_interrupted(&path).unwrap());
        let mut restored = torn.clone();
        restored[a..a + 8].copy_from_slice(&fragmented[a..a + 8]);
        assert!(std::fs::read(&path).unwrap() == restored, "room restored");
        assert_eq!(mp4_complete_prefix(&path).unwrap(), fragmented.len() as u64);
        std::fs::write(&path, &done).unwrap();
        // A finished file and a fragmented one are left alone.
        assert!(!mp4_finish_interrupted(&path).unwrap());
        std::fs::write(&path, &fragmented).unwrap();
        assert!(!mp4_finish_interrupted(&path).unwrap());
        assert_eq!(mp4_complete_prefix(&path).unwrap(), fragmented.len() as u64);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
