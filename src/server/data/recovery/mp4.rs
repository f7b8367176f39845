//! Recovery of MP4 files: a finish in place interrupted after the final `moov` went in
//! is completed, a fragmented file is cut after its last complete fragment and finished
//! moov-first (see the parent module). The box walks are [`crate::formats::mp4::scan`]'s.

use std::fs::File;
use std::io::{Seek, SeekFrom};
use std::path::Path;

use super::read_at;
use crate::formats::mp4::progressive::MAX_MOOV_ROOM;
use crate::formats::mp4::scan::{boxes, complete_prefix, BoxAt};
use crate::storage::scratch::ScratchFile;

/// Top-level boxes of an MP4 file that lie wholly inside `from..to`.
fn mp4_boxes(file: &File, from: u64, to: u64) -> std::io::Result<Vec<BoxAt>> {
    boxes(from, to, |at, buf| read_at(file, at, buf))
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
    let boxes = mp4_boxes(&file, 0, len)?;
    let Some(first) = boxes.iter().position(|b| &b.kind == b"moov") else {
        return Ok(false);
    };
    let mut later = boxes.iter().skip(first);
    let Some(&BoxAt { offset, size, .. }) = later.next() else {
        return Ok(false);
    };
    let children = mp4_boxes(&file, offset + 8, offset + size)?;
    if children.iter().any(|c| &c.kind == b"mvex") {
        return Ok(false);
    }
    let later: Vec<_> = later.collect();
    if later
        .iter()
        .all(|b| &b.kind != b"moov" && &b.kind != b"moof")
    {
        return Ok(false);
    }
    // The finish makes the new moov durable before its header; should a torn one show
    // up all the same, the file goes back to its fragmented form.
    if !mp4_moov_reads(&file, offset, size)? {
        // The room ran up to the initialization moov.
        if let Some(init) = later.iter().find(|b| &b.kind == b"moov") {
            let room = u32::try_from(init.offset - offset).unwrap_or(u32::MAX);
            let mut header = room.to_be_bytes().to_vec();
            header.extend_from_slice(b"free");
            file.seek(SeekFrom::Start(offset))?;
            std::io::Write::write_all(&mut file, &header)?;
        }
        return Ok(false);
    }
    let rest: Vec<u64> = later
        .into_iter()
        .filter(|b| &b.kind == b"moov" || &b.kind == b"moof")
        .map(|b| b.offset)
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
    let file = File::open(path)?;
    let len = file.metadata()?.len();
    let boxes = mp4_boxes(&file, 0, len)?;
    let at = boxes
        .iter()
        .position(|b| &b.kind == b"moov")
        .ok_or_else(|| invalid("no moov".into()))?;
    let moov_box = *boxes.get(at).ok_or_else(|| invalid("no moov".into()))?;
    let (moov_offset, moov_size) = (moov_box.offset, moov_box.size);
    let room = match (at, boxes.get(1)) {
        (2, Some(free)) if &free.kind == b"free" => Some(Room {
            offset: free.offset,
            len: free.size,
            init_moov: moov_offset,
        }),
        _ => None,
    };
    let bytes = read_box(&file, moov_offset, moov_size)?;
    let moov = <mp4_atom::Moov as mp4_atom::Decode>::decode(&mut bytes.as_slice())
        .map_err(|e| invalid(format!("moov: {e}")))?;
    let tracks = tracks_of_moov(&moov).map_err(|e| invalid(e.to_string()))?;
    let mut fragments = Vec::new();
    for pair in boxes.get(at + 1..).unwrap_or_default().windows(2) {
        if let [moof, mdat] = pair {
            if &moof.kind == b"moof" && &mdat.kind == b"mdat" {
                fragments.push(FragmentRef {
                    moof_offset: moof.offset,
                    moof_len: u32::try_from(moof.size).map_err(|_| invalid("moof size".into()))?,
                    payload_len: mdat.size.saturating_sub(8),
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

/// The `size` bytes of the box at `offset` (a `moov`: bounded by the room, 64 MiB).
fn read_box(file: &File, offset: u64, size: u64) -> std::io::Result<Vec<u8>> {
    let len = usize::try_from(size.min(MAX_MOOV_ROOM + 8)).unwrap_or(0);
    let mut bytes = vec![0; len];
    let n = read_at(file, offset, &mut bytes)?;
    bytes.truncate(n);
    Ok(bytes)
}

/// Whether the `moov` at `offset` decodes, with at least one track.
fn mp4_moov_reads(file: &File, offset: u64, size: u64) -> std::io::Result<bool> {
    let bytes = read_box(file, offset, size)?;
    let moov = <mp4_atom::Moov as mp4_atom::Decode>::decode(&mut bytes.as_slice());
    Ok(moov.is_ok_and(|m| !m.trak.is_empty()))
}

/// Length of the MP4 prefix that ends with a complete fragment (or 0).
pub fn mp4_complete_prefix(path: &Path) -> std::io::Result<u64> {
    let file = File::open(path)?;
    let len = file.metadata()?.len();
    Ok(complete_prefix(&mp4_boxes(&file, 0, len)?))
}

/// Length of the fMP4 media segment prefix that ends with a complete fragment (or 0).
pub fn segment_complete_prefix(path: &Path) -> std::io::Result<u64> {
    let file = File::open(path)?;
    let len = file.metadata()?.len();
    let top = mp4_boxes(&file, 0, len)?;
    Ok(crate::formats::mp4::scan::segment_complete_prefix(&top))
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
