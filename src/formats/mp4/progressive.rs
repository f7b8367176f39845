//! The progressive (moov-first) form of a finished fragmented MP4 (ISO/IEC 14496-12
//! §8.6–8.7 sample tables, §8.1.2 `free`), built without holding the sample tables:
//! they are read back from the fragments' `trun`s (§8.8.8), twice — once to count the
//! entries, which sizes every box, once to write them. Memory is the fragment list
//! (16 bytes per ~1 s fragment) plus bounded write buffers, whatever the file's length.
//!
//! Two ways, chosen once the `moov`'s size is known ([`Mp4Finish::plan`]):
//! - **In place** (the usual case). The fragmented file was written with room for the
//!   `moov` at its head: a `free` box right after `ftyp`, sized from the first fragment's
//!   sample rate and the expected length ([`MoovRoom`], the idea of ffmpeg's
//!   `-moov_size`). The complete `moov`, whose chunk offsets point into the fragments'
//!   own `mdat`s, is written inside that `free` box; then one 8-byte header write turns
//!   the `free` into the `moov`, and the initialization `moov` and every `moof` become
//!   `free` boxes (4 bytes each). No sample byte moves. A process killed before the
//!   header write leaves the fragmented file as it was; killed after it, a file that
//!   [`finish_interrupted`] completes (the server's recovery does).
//! - **Rebuild**, when there is no room, too little, or far too much for the file (a
//!   stream that stopped early): a new file gets `ftyp`, the `moov` and one `mdat` with
//!   the sample ranges copied behind it.
//!
//! This is liverec's own code: no crate writes sample tables from a stream of entries.

use mp4_atom::{Decode, Edts, Elst, ElstEntry, Encode, Moof, Mvhd, Trak};

use super::{box_err, ftyp, traks, ByteRange, Mp4Error, Mp4Tracks, TIMESCALE};

/// Bytes buffered per table before they are handed out as one write.
pub const TABLE_WRITE_BYTES: usize = 64 * 1024;
/// Largest `moov` room reserved at the head of a file; longer files are rebuilt.
pub const MAX_MOOV_ROOM: u64 = 64 * 1024 * 1024;
/// Unused room left as a `free` box after the `moov` when finishing in place: at most
/// this, or 1/[`SLACK_DIVISOR`] of the samples' bytes if that is more. More than that
/// (a file far shorter than expected) and the file is rebuilt instead.
pub const MAX_IN_PLACE_SLACK: u64 = 256 * 1024;
/// See [`MAX_IN_PLACE_SLACK`].
pub const SLACK_DIVISOR: u64 = 128;
/// Largest `moof` read back (ours hold ~1 s of samples: a few KiB).
pub const MAX_MOOF_BYTES: u32 = 16 * 1024 * 1024;
/// `sample_is_non_sync_sample` in a sample's flags (§8.8.3.1).
const NON_SYNC_BIT: u32 = 0x0001_0000;

/// One fragment of the file: where its `moof` is and how many sample bytes its `mdat`
/// holds (right behind the `moof`, after an 8-byte header).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FragmentRef {
    /// Offset of the `moof`.
    pub moof_offset: u64,
    /// Its length.
    pub moof_len: u32,
    /// Bytes of samples in the `mdat` after it.
    pub payload_len: u64,
}

impl FragmentRef {
    fn payload_offset(&self) -> u64 {
        self.moof_offset + u64::from(self.moof_len) + 8
    }
}

/// The room reserved at the head of a fragmented file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Room {
    /// Offset of the `free` box (right after `ftyp`).
    pub offset: u64,
    /// Its length, header included.
    pub len: u64,
    /// Offset of the initialization `moov` (right after the room).
    pub init_moov: u64,
}

/// How long a file is expected to get, to size the room for its `moov`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MoovRoom {
    /// Files are cut after about this long (the recording interval), ms.
    pub max_ms: Option<i64>,
    /// The whole input is this many bytes (an offline remux).
    pub input_bytes: Option<u64>,
}

/// What the first fragment says about the rest: its length and per-track samples.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FirstFragment {
    /// Its duration, ms.
    pub duration_ms: i64,
    /// Its sample bytes.
    pub payload_bytes: u64,
    /// Video samples in it.
    pub video_samples: u64,
    /// Audio samples in it.
    pub audio_samples: u64,
}

impl MoovRoom {
    /// Bytes to reserve (0: none), from the first fragment. Per sample the bound of its
    /// table entries — video: size 4, duration 8, composition offset 8, sync 4; audio:
    /// size 4, duration 8 — and per chunk an offset (8) and a samples-per-chunk entry
    /// (12); the expected length gets 1/8 on top.
    pub fn bytes(&self, first: &FirstFragment) -> u64 {
        let fragment_ms = first.duration_ms.max(1) as u64;
        let by_time = self.max_ms.map(|t| t.max(0) as u64);
        let by_size = self.input_bytes.map(|total| {
            let per_ms = (first.payload_bytes / fragment_ms).max(1);
            total / per_ms
        });
        let expected_ms = match (by_time, by_size) {
            (Some(a), Some(b)) => a.min(b),
            (Some(a), None) | (None, Some(a)) => a,
            (None, None) => return 0,
        };
        let expected_ms = expected_ms
            .saturating_add(expected_ms / 8)
            .saturating_add(10_000);
        let fragments = (expected_ms / fragment_ms).saturating_add(2);
        let samples = |n: u64, bytes: u64| n.saturating_mul(bytes).saturating_mul(fragments);
        let room = samples(first.video_samples, 24)
            .saturating_add(samples(first.audio_samples, 12))
            .saturating_add(fragments.saturating_mul(40))
            .saturating_add(8192);
        if room > MAX_MOOV_ROOM {
            0
        } else {
            room
        }
    }
}

/// Which way the file gets finished.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Every write lands in the file itself.
    InPlace,
    /// The writes make the head of a new file; then copy `ranges` of the old file to
    /// `data_start` onwards, in order; the new file replaces the old one.
    Rebuild {
        /// Where the first copied byte goes.
        data_start: u64,
        /// (offset, length) in the old file.
        ranges: Vec<ByteRange>,
    },
}

/// A write: bytes at an offset.
pub type FileWrite = (u64, Vec<u8>);

/// What [`Mp4Finish::finish`] says about its writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Finished {
    /// The file's length once they are applied.
    pub len: u64,
    /// In place: the index of the write that turns the room into the `moov`. To survive
    /// a power loss, make everything before it durable first (fsync), and it before the
    /// ones after (which free the old boxes).
    pub switch: Option<usize>,
}

/// Run-length encoding of a value stream (`stts`, `ctts`, `stsc`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Runs<T> {
    pending: Option<(u32, T)>,
}

impl<T: PartialEq + Copy> Runs<T> {
    /// Adds a value; returns the run it ended, if any.
    fn push(&mut self, value: T) -> Option<(u32, T)> {
        match &mut self.pending {
            Some((n, last)) if *last == value => {
                *n += 1;
                None
            }
            _ => self.pending.replace((1, value)),
        }
    }
}

/// A table entry, in the order it goes into its box.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Entry {
    Stts(u32, u32),
    Ctts(u32, i32),
    Stss(u32),
    Stsc(u32, u32),
    Stsz(u32),
    Chunk(u64),
}

/// The tables of one track, in box order inside `stbl`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Stts,
    Ctts,
    Stss,
    Stsc,
    Stsz,
    Chunk,
}

const KINDS: [Kind; 6] = [
    Kind::Stts,
    Kind::Ctts,
    Kind::Stss,
    Kind::Stsc,
    Kind::Stsz,
    Kind::Chunk,
];

impl Entry {
    fn kind(&self) -> Kind {
        match self {
            Entry::Stts(..) => Kind::Stts,
            Entry::Ctts(..) => Kind::Ctts,
            Entry::Stss(_) => Kind::Stss,
            Entry::Stsc(..) => Kind::Stsc,
            Entry::Stsz(_) => Kind::Stsz,
            Entry::Chunk(_) => Kind::Chunk,
        }
    }

    fn encode(&self, wide: bool, out: &mut Vec<u8>) {
        let mut u32s = |values: &[u32]| {
            for v in values {
                out.extend_from_slice(&v.to_be_bytes());
            }
        };
        match *self {
            Entry::Stts(n, d) => u32s(&[n, d]),
            // Version 1 when any offset is negative: the same bits, read as signed.
            Entry::Ctts(n, o) => u32s(&[n, o as u32]),
            Entry::Stss(n) | Entry::Stsz(n) => u32s(&[n]),
            Entry::Stsc(first, n) => u32s(&[first, n, 1]),
            Entry::Chunk(o) if wide => out.extend_from_slice(&o.to_be_bytes()),
            Entry::Chunk(o) => u32s(&[u32::try_from(o).unwrap_or(u32::MAX)]),
        }
    }
}

/// Turns one track's samples and chunks into table entries; the same code counts them
/// (first pass) and writes them (second pass).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct TrackScan {
    samples: u32,
    chunks: u32,
    durations: Runs<u32>,
    offsets: Runs<i32>,
    per_chunk: Runs<u32>,
    duration_ms: u64,
    first_dts: Option<u64>,
}

impl TrackScan {
    fn chunk(&mut self, samples: u32, offset: u64, emit: &mut impl FnMut(Entry)) {
        self.chunks += 1;
        if let Some((n, spc)) = self.per_chunk.push(samples) {
            emit(Entry::Stsc(self.chunks - n, spc));
        }
        emit(Entry::Chunk(offset));
    }

    fn sample(
        &mut self,
        size: u32,
        duration: u32,
        cts: i32,
        sync: bool,
        emit: &mut impl FnMut(Entry),
    ) {
        self.samples += 1;
        self.duration_ms += u64::from(duration);
        if let Some((n, d)) = self.durations.push(duration) {
            emit(Entry::Stts(n, d));
        }
        if let Some((n, o)) = self.offsets.push(cts) {
            emit(Entry::Ctts(n, o));
        }
        if sync {
            emit(Entry::Stss(self.samples));
        }
        emit(Entry::Stsz(size));
    }

    fn end(&mut self, emit: &mut impl FnMut(Entry)) {
        if let Some((n, d)) = self.durations.pending.take() {
            emit(Entry::Stts(n, d));
        }
        if let Some((n, o)) = self.offsets.pending.take() {
            emit(Entry::Ctts(n, o));
        }
        if let Some((n, spc)) = self.per_chunk.pending.take() {
            emit(Entry::Stsc(self.chunks - n + 1, spc));
        }
    }
}

/// What the first pass learns about a track.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct TrackCount {
    entries: [u64; 6],
    cts_nonzero: bool,
    cts_negative: bool,
}

impl TrackCount {
    fn add(&mut self, entry: Entry) {
        if let Some(n) = self.entries.get_mut(entry.kind() as usize) {
            *n += 1;
        }
        if let Entry::Ctts(_, o) = entry {
            self.cts_nonzero |= o != 0;
            self.cts_negative |= o < 0;
        }
    }

    fn entry_count(&self, kind: Kind) -> u64 {
        self.entries.get(kind as usize).copied().unwrap_or(0)
    }

    /// Whether a table is written: `ctts` only with non-zero offsets, `stss` only when
    /// some sample is not a sync sample (§8.6.2: no `stss` means all are).
    fn has(&self, kind: Kind, samples: u32) -> bool {
        match kind {
            Kind::Ctts => self.cts_nonzero,
            Kind::Stss => self.entry_count(Kind::Stss) < u64::from(samples),
            _ => true,
        }
    }
}

/// Where one table's entries go and what is buffered for them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Section {
    next: u64,
    end: u64,
    buf: Vec<u8>,
    on: bool,
    overflow: bool,
}

/// A finished fragmented file on its way to moov-first: see the module doc. Driven by
/// the caller, who owns the file: read every fragment's `moof` ([`Self::fragments`])
/// into [`Self::count`], call [`Self::plan`], read them again into [`Self::write`], then
/// [`Self::finish`]; apply every write in the order given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mp4Finish {
    tracks: Mp4Tracks,
    fragments: Vec<FragmentRef>,
    room: Option<Room>,
    /// Per track, by `trak` id − 1.
    scans: Vec<TrackScan>,
    counts: Vec<TrackCount>,
    sections: Vec<[Section; 6]>,
    wide: bool,
    plan: Option<Plan>,
    /// Length of the new `moov` and where it goes.
    moov: (u64, u64),
    /// Rebuild: sample bytes before the current fragment.
    copied: u64,
    /// The next fragment to read.
    cursor: usize,
}

/// The index of `trak` id `id` in the per-track tables (ids start at 1).
fn track_index(id: u32) -> Option<usize> {
    usize::try_from(id).ok()?.checked_sub(1)
}

fn header(size: u64, kind: &[u8; 4]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8);
    out.extend_from_slice(&u32::try_from(size).unwrap_or(u32::MAX).to_be_bytes());
    out.extend_from_slice(kind);
    out
}

fn encoded(item: &impl Encode) -> Result<Vec<u8>, Mp4Error> {
    let mut out = Vec::new();
    item.encode(&mut out).map_err(box_err)?;
    Ok(out)
}

/// Part of the new `moov`: fixed bytes, or the entries of a table.
enum Part {
    Bytes(Vec<u8>),
    Table(usize, Kind, u64),
}

impl Part {
    fn len(&self) -> u64 {
        match self {
            Part::Bytes(b) => b.len() as u64,
            Part::Table(_, _, len) => *len,
        }
    }
}

fn parts_len(parts: &[Part]) -> u64 {
    parts.iter().map(Part::len).sum()
}

impl Mp4Finish {
    /// The finish of a file with `tracks` made of `fragments`, with `room` at its head.
    pub fn new(tracks: Mp4Tracks, fragments: Vec<FragmentRef>, room: Option<Room>) -> Self {
        let n = Self::track_slots(&tracks);
        Self {
            tracks,
            fragments,
            room,
            scans: vec![TrackScan::default(); n],
            counts: vec![TrackCount::default(); n],
            sections: vec![Default::default(); n],
            wide: false,
            plan: None,
            moov: (0, 0),
            copied: 0,
            cursor: 0,
        }
    }

    /// Slots in the per-track tables: the first video and audio ids, then the extras'.
    fn track_slots(tracks: &Mp4Tracks) -> usize {
        usize::try_from(Mp4Tracks::extra_id(tracks.extra.len())).unwrap_or(0) - 1
    }

    /// The fragments, in file order.
    pub fn fragments(&self) -> &[FragmentRef] {
        &self.fragments
    }

    /// The fragment whose `moof` is to be read next (in each pass), if any.
    pub fn next_read(&self) -> Option<FragmentRef> {
        self.fragments.get(self.cursor).copied()
    }

    /// First pass: the next fragment's `moof` bytes.
    pub fn count(&mut self, moof: &[u8]) -> Result<(), Mp4Error> {
        let mut counts = std::mem::take(&mut self.counts);
        let result = self.scan(moof, &mut |t, e| {
            if let Some(c) = counts.get_mut(t) {
                c.add(e);
            }
        });
        self.counts = counts;
        result
    }

    /// Second pass: the next fragment's `moof` bytes; table writes go to `out`.
    pub fn write(&mut self, moof: &[u8], out: &mut Vec<FileWrite>) -> Result<(), Mp4Error> {
        if self.plan.is_none() {
            return Err(Mp4Error::Box("write before plan".into()));
        }
        let mut sections = std::mem::take(&mut self.sections);
        let wide = self.wide;
        let result = self.scan(moof, &mut |t, e| {
            if let Some(s) = sections.get_mut(t) {
                put(s, e, wide, out);
            }
        });
        self.sections = sections;
        result
    }

    fn scan(&mut self, moof: &[u8], emit: &mut impl FnMut(usize, Entry)) -> Result<(), Mp4Error> {
        let fragment = self
            .next_read()
            .ok_or_else(|| Mp4Error::Box("more moofs than fragments".into()))?;
        self.cursor += 1;
        let moof = Moof::decode(&mut &moof[..]).map_err(box_err)?;
        for traf in &moof.traf {
            let t = track_index(traf.tfhd.track_id)
                .ok_or_else(|| Mp4Error::Box(format!("track {}", traf.tfhd.track_id)))?;
            let Some(scan) = self.scans.get_mut(t) else {
                continue;
            };
            if let Some(tfdt) = &traf.tfdt {
                scan.first_dts.get_or_insert(tfdt.base_media_decode_time);
            }
            for trun in &traf.trun {
                let data_offset = u64::try_from(trun.data_offset.unwrap_or(0))
                    .map_err(|_| Mp4Error::Box("negative data offset".into()))?;
                let offset = match &self.plan {
                    Some(Plan::Rebuild { data_start, .. }) => {
                        let into = data_offset.saturating_sub(u64::from(fragment.moof_len) + 8);
                        data_start + self.copied + into
                    }
                    _ => fragment.moof_offset + data_offset,
                };
                let mut emit_t = |e| emit(t, e);
                scan.chunk(trun.entries.len() as u32, offset, &mut emit_t);
                for entry in &trun.entries {
                    let duration = entry.duration.or(traf.tfhd.default_sample_duration);
                    let size = entry.size.or(traf.tfhd.default_sample_size);
                    let flags = entry.flags.or(traf.tfhd.default_sample_flags).unwrap_or(0);
                    let (Some(duration), Some(size)) = (duration, size) else {
                        return Err(Mp4Error::Box("sample without size or duration".into()));
                    };
                    let sync = flags & NON_SYNC_BIT == 0;
                    scan.sample(size, duration, entry.cts.unwrap_or(0), sync, &mut emit_t);
                }
            }
        }
        self.copied += fragment.payload_len;
        Ok(())
    }

    /// After the first pass: sizes the `moov`, chooses in place or rebuild, and puts
    /// the `moov`'s fixed bytes in `out`.
    pub fn plan(&mut self, out: &mut Vec<FileWrite>) -> Result<Plan, Mp4Error> {
        if self.plan.is_some() {
            return Err(Mp4Error::Box("planned twice".into()));
        }
        if self.cursor != self.fragments.len() {
            return Err(Mp4Error::Box(
                "planned before every moof was counted".into(),
            ));
        }
        for (scan, counts) in self.scans.iter_mut().zip(self.counts.iter_mut()) {
            scan.end(&mut |e| counts.add(e));
        }
        let payload: u64 = self.fragments.iter().map(|f| f.payload_len).sum();
        let in_place = self.room.and_then(|room| {
            self.wide = data_end(&self.fragments) > u64::from(u32::MAX);
            let parts = self.moov_parts().ok()?;
            let len = parts_len(&parts);
            let slack = room.len.checked_sub(len)?;
            let fits = slack == 0 || slack >= 8;
            let modest = slack <= MAX_IN_PLACE_SLACK.max(payload / SLACK_DIVISOR);
            (fits && modest).then_some((room, parts))
        });
        let (plan, base, parts) = match in_place {
            Some((room, parts)) => (Plan::InPlace, room.offset, parts),
            None => {
                let ftyp = encoded(&ftyp())?;
                let head = |wide: bool, me: &mut Self| -> Result<(Vec<Part>, u64), Mp4Error> {
                    me.wide = wide;
                    let parts = me.moov_parts()?;
                    let mdat_header = if payload + 8 > u64::from(u32::MAX) {
                        16
                    } else {
                        8
                    };
                    let start = ftyp.len() as u64 + parts_len(&parts) + mdat_header;
                    Ok((parts, start))
                };
                let (mut parts, mut data_start) = head(false, self)?;
                if data_start + payload > u64::from(u32::MAX) {
                    (parts, data_start) = head(true, self)?;
                }
                let moov_end = ftyp.len() as u64 + parts_len(&parts);
                let mdat = if data_start - moov_end == 16 {
                    let mut h = header(1, b"mdat");
                    h.extend_from_slice(&(payload + 16).to_be_bytes());
                    h
                } else {
                    header(payload + 8, b"mdat")
                };
                out.push((0, ftyp.clone()));
                out.push((moov_end, mdat));
                let ranges = self
                    .fragments
                    .iter()
                    .map(|f| (f.payload_offset(), f.payload_len))
                    .collect();
                (
                    Plan::Rebuild { data_start, ranges },
                    ftyp.len() as u64,
                    parts,
                )
            }
        };
        self.place(&plan, base, parts, out);
        self.scans = vec![TrackScan::default(); Self::track_slots(&self.tracks)];
        self.copied = 0;
        self.cursor = 0;
        self.plan = Some(plan.clone());
        Ok(plan)
    }

    /// Lays the `moov` out from `base`: fixed bytes to `out` (in place, all but its
    /// 8-byte header, which [`Self::finish`] writes last), table sections placed.
    fn place(&mut self, plan: &Plan, base: u64, parts: Vec<Part>, out: &mut Vec<FileWrite>) {
        let mut at = base;
        for (i, part) in parts.into_iter().enumerate() {
            let len = part.len();
            match part {
                Part::Bytes(_) if i == 0 && *plan == Plan::InPlace => {}
                Part::Bytes(bytes) => out.push((at, bytes)),
                Part::Table(t, kind, len) => {
                    let section = self
                        .sections
                        .get_mut(t)
                        .and_then(|s| s.get_mut(kind as usize));
                    let Some(section) = section else {
                        continue;
                    };
                    *section = Section {
                        next: at,
                        end: at + len,
                        buf: Vec::new(),
                        on: true,
                        overflow: false,
                    };
                }
            }
            at += len;
        }
        self.moov = (at - base, base);
    }

    /// After the second pass: the last table bytes and, in place, the writes that turn
    /// the file moov-first — in this order (see [`Finished::switch`]).
    pub fn finish(mut self, out: &mut Vec<FileWrite>) -> Result<Finished, Mp4Error> {
        if self.plan.is_none() {
            return Err(Mp4Error::Box("finish before plan".into()));
        }
        if self.cursor != self.fragments.len() {
            return Err(Mp4Error::Box(
                "finished before every moof was written".into(),
            ));
        }
        let wide = self.wide;
        for (scan, sections) in self.scans.iter_mut().zip(self.sections.iter_mut()) {
            scan.end(&mut |e| put(sections, e, wide, out));
        }
        for section in self.sections.iter_mut().flatten() {
            flush(section, out);
            if section.next != section.end || section.overflow {
                return Err(Mp4Error::Box("sample tables changed between passes".into()));
            }
        }
        let (moov_len, base) = self.moov;
        match (&self.plan, self.room) {
            (Some(Plan::InPlace), Some(room)) => {
                if room.len > moov_len {
                    out.push((base + moov_len, header(room.len - moov_len, b"free")));
                }
                let switch = out.len();
                out.push((base, header(moov_len, b"moov")));
                out.push((room.init_moov + 4, b"free".to_vec()));
                for f in &self.fragments {
                    out.push((f.moof_offset + 4, b"free".to_vec()));
                }
                Ok(Finished {
                    len: data_end(&self.fragments),
                    switch: Some(switch),
                })
            }
            (Some(Plan::Rebuild { data_start, .. }), _) => Ok(Finished {
                len: data_start + self.fragments.iter().map(|f| f.payload_len).sum::<u64>(),
                switch: None,
            }),
            _ => Err(Mp4Error::Box("no plan".into())),
        }
    }

    /// The new `moov` as fixed bytes and table sections (first part: its header).
    fn moov_parts(&self) -> Result<Vec<Part>, Mp4Error> {
        let mut traks = traks(&self.tracks)?;
        let movie_start = self
            .scans
            .iter()
            .filter_map(|s| s.first_dts)
            .min()
            .unwrap_or(0);
        let mut movie_ms = 0u64;
        let mut body = Vec::new();
        for trak in &mut traks {
            let Some(t) = track_index(trak.tkhd.track_id) else {
                continue;
            };
            let Some(scan) = self.scans.get(t) else {
                continue;
            };
            // A track that starts after the other keeps its offset: an empty edit first
            // (§8.6.6), then the media.
            let delay = scan.first_dts.map_or(0, |d| d.saturating_sub(movie_start));
            let duration = scan.duration_ms;
            if delay > 0 {
                let edit = |segment_duration, media_time| ElstEntry {
                    segment_duration,
                    media_time,
                    media_rate: 1.into(),
                };
                trak.edts = Some(Edts {
                    elst: Some(Elst {
                        entries: vec![edit(delay, None), edit(duration, Some(0))],
                    }),
                });
            }
            trak.tkhd.duration = duration + delay;
            trak.mdia.mdhd.duration = duration;
            movie_ms = movie_ms.max(duration + delay);
            body.extend(self.trak_parts(t, trak)?);
        }
        let mvhd = Mvhd {
            timescale: TIMESCALE,
            duration: movie_ms,
            rate: 1.into(),
            volume: 1.into(),
            next_track_id: Mp4Tracks::extra_id(self.tracks.extra.len()),
            ..Default::default()
        };
        let mvhd = Part::Bytes(encoded(&mvhd)?);
        let len = 8 + mvhd.len() + parts_len(&body);
        let mut parts = vec![Part::Bytes(header(len, b"moov")), mvhd];
        parts.extend(body);
        Ok(parts)
    }

    fn trak_parts(&self, t: usize, trak: &Trak) -> Result<Vec<Part>, Mp4Error> {
        let (Some(counts), Some(scan)) = (self.counts.get(t), self.scans.get(t)) else {
            return Ok(Vec::new());
        };
        let samples = scan.samples;
        let minf = &trak.mdia.minf;
        let mut stbl = vec![Part::Bytes(encoded(&minf.stbl.stsd)?)];
        for kind in KINDS {
            if !counts.has(kind, samples) {
                continue;
            }
            let n = counts.entry_count(kind);
            let (name, entry_bytes, extra): (&[u8; 4], u64, &[u32]) = match kind {
                Kind::Stts => (b"stts", 8, &[]),
                Kind::Ctts => (b"ctts", 8, &[]),
                Kind::Stss => (b"stss", 4, &[]),
                Kind::Stsc => (b"stsc", 12, &[]),
                Kind::Stsz => (b"stsz", 4, &[0]),
                Kind::Chunk if self.wide => (b"co64", 8, &[]),
                Kind::Chunk => (b"stco", 4, &[]),
            };
            let table = n * entry_bytes;
            let fixed = 16 + 4 * extra.len() as u64;
            let mut head = header(fixed + table, name);
            let version: u32 = if kind == Kind::Ctts && counts.cts_negative {
                1 << 24
            } else {
                0
            };
            head.extend_from_slice(&version.to_be_bytes());
            for v in extra {
                head.extend_from_slice(&v.to_be_bytes());
            }
            head.extend_from_slice(&u32::try_from(n).unwrap_or(u32::MAX).to_be_bytes());
            stbl.push(Part::Bytes(head));
            stbl.push(Part::Table(t, kind, table));
        }
        let container = |kind: &[u8; 4], fixed: Vec<Vec<u8>>, rest: Vec<Part>| {
            let len = 8 + fixed.iter().map(|b| b.len() as u64).sum::<u64>() + parts_len(&rest);
            let mut parts = vec![Part::Bytes(header(len, kind))];
            parts.extend(fixed.into_iter().map(Part::Bytes));
            parts.extend(rest);
            parts
        };
        let stbl = container(b"stbl", Vec::new(), stbl);
        let mut media_header = Vec::new();
        if let Some(vmhd) = &minf.vmhd {
            media_header.push(encoded(vmhd)?);
        }
        if let Some(smhd) = &minf.smhd {
            media_header.push(encoded(smhd)?);
        }
        media_header.push(encoded(&minf.dinf)?);
        let minf = container(b"minf", media_header, stbl);
        let mdia = container(
            b"mdia",
            vec![encoded(&trak.mdia.mdhd)?, encoded(&trak.mdia.hdlr)?],
            minf,
        );
        let mut fixed = vec![encoded(&trak.tkhd)?];
        if let Some(edts) = &trak.edts {
            fixed.push(encoded(edts)?);
        }
        Ok(container(b"trak", fixed, mdia))
    }
}

fn data_end(fragments: &[FragmentRef]) -> u64 {
    fragments
        .last()
        .map_or(0, |f| f.payload_offset() + f.payload_len)
}

fn put(sections: &mut [Section; 6], entry: Entry, wide: bool, out: &mut Vec<FileWrite>) {
    let Some(section) = sections.get_mut(entry.kind() as usize) else {
        return;
    };
    if !section.on {
        return;
    }
    entry.encode(wide, &mut section.buf);
    if section.buf.len() >= TABLE_WRITE_BYTES {
        flush(section, out);
    }
}

/// Hands the buffered entries out as one write — never past the table's end: more
/// entries than counted (which would overwrite what follows the table) are dropped and
/// make [`Mp4Finish::finish`] fail.
fn flush(section: &mut Section, out: &mut Vec<FileWrite>) {
    if section.buf.is_empty() {
        return;
    }
    let bytes = std::mem::take(&mut section.buf);
    let at = section.next;
    section.next += bytes.len() as u64;
    if section.next > section.end {
        section.overflow = true;
        return;
    }
    out.push((at, bytes));
}

/// Finishes `finish` on a file held in memory (tests, fuzzing): the same steps a file
/// driver takes. Returns the new bytes.
pub fn finish_in_memory(mut file: Vec<u8>, mut finish: Mp4Finish) -> Result<Vec<u8>, Mp4Error> {
    let moof = |file: &[u8], f: &FragmentRef| -> Result<Vec<u8>, Mp4Error> {
        let start = usize::try_from(f.moof_offset).unwrap_or(usize::MAX);
        file.get(start..start.saturating_add(f.moof_len as usize))
            .map(<[u8]>::to_vec)
            .ok_or_else(|| Mp4Error::Box("moof past the end".into()))
    };
    while let Some(f) = finish.next_read() {
        finish.count(&moof(&file, &f)?)?;
    }
    let mut writes = Vec::new();
    let plan = finish.plan(&mut writes)?;
    let mut target = match &plan {
        Plan::InPlace => file.clone(),
        Plan::Rebuild { .. } => Vec::new(),
    };
    while let Some(f) = finish.next_read() {
        finish.write(&moof(&file, &f)?, &mut writes)?;
    }
    let len = finish.finish(&mut writes)?.len;
    if let Plan::Rebuild { data_start, ranges } = &plan {
        target.resize(usize::try_from(*data_start).unwrap_or(0), 0);
        for &(offset, n) in ranges {
            let start = offset as usize;
            let range = file
                .get(start..start + n as usize)
                .ok_or_else(|| Mp4Error::Box("range past the end".into()))?;
            target.extend_from_slice(range);
        }
    }
    for (at, bytes) in writes {
        let at = at as usize;
        if target.len() < at + bytes.len() {
            target.resize(at + bytes.len(), 0);
        }
        if let Some(place) = target.get_mut(at..at + bytes.len()) {
            place.copy_from_slice(&bytes);
        }
    }
    file = target;
    debug_assert_eq!(file.len() as u64, len);
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::codec::aac::parse_audio_specific_config;
    use crate::formats::flv::frames::{MediaFrame, Track};
    use crate::formats::mp4::test_support::avc;
    use crate::formats::mp4::Fragmenter;

    fn tracks() -> Mp4Tracks {
        Mp4Tracks {
            video: Some(avc()),
            audio: parse_audio_specific_config(&[0x11, 0x90]),
            opus: None,
            entry: None,
            extra: Vec::new(),
        }
    }

    /// `seconds` of 25 fps video (a keyframe each second, B-frame-like composition
    /// offsets) and ~43 fps audio; every sample's bytes are distinct.
    fn frames(seconds: i64) -> Vec<MediaFrame> {
        let mut frames = Vec::new();
        for i in 0..seconds * 25 {
            let dts = i * 40;
            frames.push(MediaFrame {
                track: Track::Video,
                dts_ms: dts,
                pts_ms: dts + if i % 2 == 1 { 80 } else { 40 },
                keyframe: i % 25 == 0,
                data: (0..100 + (i % 7) as u32)
                    .map(|b| (b as i64 + i) as u8)
                    .collect::<Vec<u8>>()
                    .into(),
                offset: 0,
            });
            for a in 0..2 {
                let adts = dts + a * 23;
                frames.push(MediaFrame {
                    track: Track::Audio,
                    dts_ms: adts,
                    pts_ms: adts,
                    keyframe: true,
                    data: vec![(i * 2 + a) as u8; 20 + a as usize].into(),
                    offset: 0,
                });
            }
        }
        frames
    }

    fn fragmented(seconds: i64, room: MoovRoom) -> (Vec<u8>, Mp4Finish) {
        let mut fragmenter = Fragmenter::new(tracks(), room).unwrap();
        let mut out = Vec::new();
        for frame in frames(seconds) {
            fragmenter.push(&frame, &mut out).unwrap();
        }
        fragmenter.finish(&mut out).unwrap();
        (out.concat(), fragmenter.finish_plan())
    }

    fn boxes(bytes: &[u8]) -> Vec<(usize, usize, String)> {
        let mut at = 0;
        let mut out = Vec::new();
        while at + 8 <= bytes.len() {
            let size = u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
            out.push((
                at,
                size,
                String::from_utf8_lossy(&bytes[at + 4..at + 8]).into(),
            ));
            assert!(
                size >= 8 && at + size <= bytes.len(),
                "box at {at} overruns"
            );
            at += size;
        }
        assert_eq!(at, bytes.len(), "boxes cover the file");
        out
    }

    /// Entries of the first box `name` inside `moov` (a flat search is enough here:
    /// the names do not occur in sample data).
    fn table(bytes: &[u8], name: &[u8; 4], nth: usize) -> (u32, Vec<u8>) {
        let at = bytes
            .windows(4)
            .enumerate()
            .filter(|(_, w)| w == name)
            .nth(nth)
            .unwrap()
            .0
            - 4;
        let size = u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        let flags = u32::from_be_bytes(bytes[at + 8..at + 12].try_into().unwrap());
        (flags, bytes[at + 12..at + size].to_vec())
    }

    fn u32s(bytes: &[u8]) -> Vec<u32> {
        bytes
            .chunks(4)
            .map(|c| u32::from_be_bytes(c.try_into().unwrap()))
            .collect()
    }

    /// Every sample the tables describe, read back through stsz/stsc/stco.
    fn samples(file: &[u8], trak: usize) -> Vec<Vec<u8>> {
        let sizes = u32s(&table(file, b"stsz", trak).1[8..]);
        let stsc = u32s(&table(file, b"stsc", trak).1[4..]);
        let offsets = u32s(&table(file, b"stco", trak).1[4..]);
        let mut out = Vec::new();
        let mut sample = 0;
        for (c, &offset) in offsets.iter().enumerate() {
            let chunk = c as u32 + 1;
            let entry = stsc.chunks(3).rev().find(|e| e[0] <= chunk).unwrap();
            let mut at = offset as usize;
            for _ in 0..entry[1] {
                let n = sizes[sample] as usize;
                out.push(file[at..at + n].to_vec());
                at += n;
                sample += 1;
            }
        }
        assert_eq!(sample, sizes.len());
        out
    }

    fn expected(track: Track, seconds: i64) -> Vec<Vec<u8>> {
        frames(seconds)
            .into_iter()
            .filter(|f| f.track == track)
            .map(|f| f.data.to_vec())
            .collect()
    }

    #[test]
    fn finishes_in_place_with_no_sample_byte_moved() {
        let room = MoovRoom {
            max_ms: Some(30_000),
            input_bytes: None,
        };
        let (file, finish) = fragmented(20, room);
        let len = file.len();
        let done = finish_in_memory(file.clone(), finish).unwrap();
        assert_eq!(done.len(), len, "same length");
        let kinds: Vec<String> = boxes(&done).into_iter().map(|b| b.2).collect();
        assert_eq!(kinds[..3], ["ftyp", "moov", "free"]);
        assert!(!kinds.iter().any(|k| k == "moof"), "{kinds:?}");
        assert_eq!(kinds.iter().filter(|k| *k == "moov").count(), 1);
        assert_eq!(kinds.iter().filter(|k| *k == "mdat").count(), 20);
        // Only headers changed: every mdat byte is where it was.
        for (at, size, kind) in boxes(&file) {
            if kind == "mdat" {
                assert_eq!(file[at..at + size], done[at..at + size]);
            }
        }
        assert_eq!(samples(&done, 0), expected(Track::Video, 20));
        assert_eq!(samples(&done, 1), expected(Track::Audio, 20));
    }

    #[test]
    fn tables_hold_durations_offsets_and_sync_samples() {
        let room = MoovRoom {
            max_ms: Some(10_000),
            input_bytes: None,
        };
        let (file, finish) = fragmented(3, room);
        let done = finish_in_memory(file, finish).unwrap();
        // Video: 75 samples of 40 ms, the last repeating the previous duration.
        assert_eq!(u32s(&table(&done, b"stts", 0).1), [1, 75, 40]);
        // Composition offsets alternate 40 / 80 ms: one run per sample, version 0.
        let (version, ctts) = table(&done, b"ctts", 0);
        assert_eq!(version, 0);
        assert_eq!(u32s(&ctts[..20]), [75, 1, 40, 1, 80]);
        assert_eq!(u32s(&table(&done, b"stss", 0).1), [3, 1, 26, 51]);
        // Audio: no ctts, no stss (every sample is a sync sample).
        assert_eq!(done.windows(4).filter(|w| w == b"ctts").count(), 1);
        assert_eq!(done.windows(4).filter(|w| w == b"stss").count(), 1);
    }

    #[test]
    fn without_room_or_with_far_too_much_the_file_is_rebuilt() {
        for room in [
            MoovRoom::default(),
            MoovRoom {
                max_ms: Some(3_600_000),
                input_bytes: None,
            },
        ] {
            let (file, finish) = fragmented(5, room);
            let done = finish_in_memory(file, finish).unwrap();
            let kinds: Vec<String> = boxes(&done).into_iter().map(|b| b.2).collect();
            assert_eq!(kinds, ["ftyp", "moov", "mdat"], "{room:?}");
            assert_eq!(samples(&done, 0), expected(Track::Video, 5));
            assert_eq!(samples(&done, 1), expected(Track::Audio, 5));
        }
    }

    #[test]
    fn a_file_longer_than_expected_is_rebuilt() {
        let room = MoovRoom {
            max_ms: Some(1_000),
            input_bytes: None,
        };
        let (file, finish) = fragmented(60, room);
        let done = finish_in_memory(file, finish).unwrap();
        let kinds: Vec<String> = boxes(&done).into_iter().map(|b| b.2).collect();
        assert_eq!(kinds, ["ftyp", "moov", "mdat"]);
        assert_eq!(samples(&done, 1), expected(Track::Audio, 60));
    }

    #[test]
    fn a_stream_without_keyframes_is_still_cut_into_fragments() {
        let room = MoovRoom {
            max_ms: Some(60_000),
            input_bytes: None,
        };
        let mut fragmenter = Fragmenter::new(tracks(), room).unwrap();
        let mut out = Vec::new();
        let mut all = frames(35);
        for f in all.iter_mut().skip(1) {
            f.keyframe &= f.track == Track::Audio;
        }
        for frame in &all {
            fragmenter.push(frame, &mut out).unwrap();
        }
        fragmenter.finish(&mut out).unwrap();
        let finish = fragmenter.finish_plan();
        assert_eq!(finish.fragments().len(), 4, "cut every MAX_FRAGMENT_MS");
        let done = finish_in_memory(out.concat(), finish).unwrap();
        assert_eq!(samples(&done, 0), expected(Track::Video, 35));
        assert_eq!(u32s(&table(&done, b"stss", 0).1), [1, 1], "one sync sample");
    }

    #[test]
    fn offsets_past_4_gib_use_co64() {
        let (file, finish) = fragmented(2, MoovRoom::default());
        // The same fragments, as if 5 GiB of other data came first.
        let shift = 5u64 << 30;
        let fragments: Vec<FragmentRef> = finish
            .fragments()
            .iter()
            .map(|f| FragmentRef {
                moof_offset: f.moof_offset + shift,
                ..*f
            })
            .collect();
        let room = Room {
            offset: 28,
            len: 64 * 1024,
            init_moov: 28 + 64 * 1024,
        };
        let mut shifted = Mp4Finish::new(tracks(), fragments.clone(), Some(room));
        let moof = |f: &FragmentRef| {
            let at = (f.moof_offset - shift) as usize;
            file[at..at + f.moof_len as usize].to_vec()
        };
        for f in &fragments {
            shifted.count(&moof(f)).unwrap();
        }
        let mut writes = Vec::new();
        assert_eq!(shifted.plan(&mut writes).unwrap(), Plan::InPlace);
        for f in &fragments {
            shifted.write(&moof(f), &mut writes).unwrap();
        }
        let finished = shifted.finish(&mut writes).unwrap();
        assert!(writes.iter().any(|w| w.1.windows(4).any(|x| x == b"co64")));
        assert!(!writes.iter().any(|w| w.1.windows(4).any(|x| x == b"stco")));
        let video_chunk = fragments[0].moof_offset + 8 + u64::from(fragments[0].moof_len);
        assert!(
            writes
                .iter()
                .any(|w| w.1.windows(8).any(|x| x == video_chunk.to_be_bytes())),
            "the first chunk's 64-bit offset"
        );
        // The switch comes last but for the free-ing of the old boxes.
        let moov = writes.iter().position(|w| w.1.ends_with(b"moov")).unwrap();
        assert_eq!(finished.switch, Some(moov), "the switch is reported");
        assert_eq!(writes[moov].0, 28);
        assert!(writes[moov + 1..].iter().all(|w| w.1 == b"free"));
    }

    #[test]
    fn the_room_follows_the_expected_length() {
        let first = FirstFragment {
            duration_ms: 1000,
            payload_bytes: 300_000,
            video_samples: 30,
            audio_samples: 43,
        };
        let ten_minutes = MoovRoom {
            max_ms: Some(600_000),
            input_bytes: None,
        };
        let by_size = MoovRoom {
            max_ms: None,
            input_bytes: Some(180_000_000),
        };
        let room = ten_minutes.bytes(&first);
        // 600 s × (30 × 24 + 43 × 12 + 40) bytes, plus 1/8 and 10 s: ~0.8 MB.
        assert!((700_000..900_000).contains(&room), "{room}");
        assert_eq!(
            by_size.bytes(&first),
            room,
            "180 MB at 300 kB/s is 10 minutes"
        );
        assert_eq!(MoovRoom::default().bytes(&first), 0);
        let day = MoovRoom {
            max_ms: Some(86_400_000),
            input_bytes: None,
        };
        assert_eq!(
            day.bytes(&first),
            0,
            "past MAX_MOOV_ROOM: rebuilt at the end"
        );
    }
}
