//! MP4 (ISO/IEC 14496-12) written as fragmented MP4 while a recording grows: an
//! initialization segment (`ftyp` + `moov` with `mvex`, ISO/IEC 14496-12 §8.8) and then
//! about one `moof` + `mdat` per second (§8.8.4), each starting at a video keyframe. A
//! process killed at any moment leaves a file that players read up to the last complete
//! fragment. Boxes are mp4-atom's; the sample tables are liverec's own.
//!
//! Payloads are untouched: video samples are the FLV's length-prefixed NAL units (the
//! `avcC`/`hvcC` is the FLV sequence header itself), audio samples the raw AAC frames
//! (the `esds` carries the AudioSpecificConfig verbatim). Both tracks use a 1 ms timescale,
//! so every decode and composition time is the source millisecond value, unchanged.
//! A sample's duration is the next sample's DTS minus its own (the last one repeats the
//! previous duration).

use mp4_atom::{Encode, Mfhd, Moof, Tfdt, Tfhd, Traf, Trun, TrunEntry};

mod entry;
pub mod fragments;
pub mod from_ts;
pub mod progressive;
pub mod samples;
pub mod scan;
pub mod stitch;
mod tracks;

pub use progressive::{FirstFragment, FragmentRef, MoovRoom, Mp4Finish, Room};
use tracks::{ftyp, init_moov, traks};
pub use tracks::{init_segment, tracks_of_moov, ExtraTrack, Mp4Tracks, MAX_EXTRA_TRACKS};

use bytes::Bytes;

use crate::formats::flv::frames::{MediaFrame, Track};

/// Timescale of both tracks: milliseconds, the unit FLV and RTMP timestamps come in.
pub const TIMESCALE: u32 = 1000;
/// Target fragment length, ms (the crash-loss bound).
pub const FRAGMENT_MS: i64 = 1000;
/// A fragment is cut after this long even without a keyframe (a stream that stopped
/// sending them): the crash-loss bound holds, within this.
pub const MAX_FRAGMENT_MS: i64 = 10 * FRAGMENT_MS;
/// A fragment is cut once its samples reach this many bytes, keyframe or not: memory
/// stays bounded and every offset inside a fragment fits its 32-bit field.
pub const MAX_FRAGMENT_BYTES: u64 = 64 * 1024 * 1024;
const VIDEO_TRACK: u32 = 1;
const AUDIO_TRACK: u32 = 2;
const SYNC_FLAGS: u32 = 0x0200_0000;
const NON_SYNC_FLAGS: u32 = 0x0101_0000;

/// Why an MP4 cannot be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Mp4Error {
    /// A decoder configuration mp4-atom cannot read or write.
    #[error("MP4 box: {0}")]
    Box(String),
    /// Nothing to write a track for.
    #[error("no video or AAC audio configuration")]
    NoTracks,
}

fn too_large() -> Mp4Error {
    Mp4Error::Box("fragment past 2 GiB".into())
}

fn box_err(e: mp4_atom::Error) -> Mp4Error {
    Mp4Error::Box(e.to_string())
}

#[derive(Debug, Clone)]
struct Sample {
    dts_ms: i64,
    cts_ms: i64,
    duration_ms: i64,
    sync: bool,
    data: Bytes,
}

#[derive(Debug, Default)]
struct TrackQueue {
    ready: Vec<Sample>,
    last: Option<Sample>,
    previous_duration: i64,
}

impl TrackQueue {
    fn add(&mut self, frame: &MediaFrame) {
        if let Some(mut last) = self.last.take() {
            last.duration_ms = (frame.dts_ms - last.dts_ms).max(1);
            self.previous_duration = last.duration_ms;
            self.ready.push(last);
        }
        self.last = Some(Sample {
            dts_ms: frame.dts_ms,
            cts_ms: frame.pts_ms - frame.dts_ms,
            duration_ms: 0,
            sync: frame.keyframe,
            data: frame.data.clone(),
        });
    }

    fn drain_all(&mut self) {
        if let Some(mut last) = self.last.take() {
            last.duration_ms = self.previous_duration.max(1);
            self.ready.push(last);
        }
    }
}

/// Frames in, fragments out; see the module doc. The head of the file — `ftyp`, the
/// room for the final `moov` ([`MoovRoom`]), the initialization `moov` — is written with
/// the first fragment, whose sample rate sizes the room.
#[derive(Debug)]
pub struct Fragmenter {
    tracks: Mp4Tracks,
    has_video: bool,
    sequence: u32,
    /// Bytes of the fragmented file so far (head included).
    written: u64,
    init_moov: Vec<u8>,
    room_policy: MoovRoom,
    room: Option<Room>,
    fragments: Vec<FragmentRef>,
    video: TrackQueue,
    audio: TrackQueue,
    /// The extra tracks' queues, in [`Mp4Tracks::extra`]'s order.
    extra: Vec<TrackQueue>,
    fragment_start_ms: Option<i64>,
    /// Sample bytes queued for the next fragment.
    queued_bytes: u64,
    /// The file's head goes out with the first fragment (false: an HLS media segment,
    /// whose head is the separate [`init_segment`]).
    with_head: bool,
}

impl Fragmenter {
    /// A fragmenter for a file with `tracks`, whose final `moov` gets room by `room`.
    pub fn new(tracks: Mp4Tracks, room: MoovRoom) -> Result<Self, Mp4Error> {
        Ok(Self {
            has_video: tracks.video.is_some(),
            init_moov: init_moov(&tracks)?,
            extra: std::iter::repeat_with(TrackQueue::default)
                .take(tracks.extra.len())
                .collect(),
            tracks,
            sequence: 0,
            written: 0,
            room_policy: room,
            room: None,
            fragments: Vec::new(),
            video: TrackQueue::default(),
            audio: TrackQueue::default(),
            fragment_start_ms: None,
            queued_bytes: 0,
            with_head: true,
        })
    }

    /// A fragmenter for one HLS media segment (ISO/IEC 23000-19 CMAF segment): fragments
    /// only, numbered from `sequence` + 1; the tracks' head is [`init_segment`].
    pub fn media_segment(tracks: Mp4Tracks, sequence: u32) -> Result<Self, Mp4Error> {
        let mut fragmenter = Self::new(tracks, MoovRoom::default())?;
        fragmenter.sequence = sequence;
        fragmenter.with_head = false;
        Ok(fragmenter)
    }

    /// The sequence number of the last fragment written.
    pub fn sequence(&self) -> u32 {
        self.sequence
    }

    /// What finishing the file as moov-first needs (see [`progressive`]).
    pub fn finish_plan(&self) -> Mp4Finish {
        Mp4Finish::new(self.tracks.clone(), self.fragments.clone(), self.room)
    }

    /// Adds a frame; a finished fragment (the file's head first, the first time) goes
    /// to `out` when this frame starts the next one.
    pub fn push(&mut self, frame: &MediaFrame, out: &mut Vec<Bytes>) -> Result<(), Mp4Error> {
        let queue = match frame.track {
            Track::Video => &mut self.video,
            Track::Audio => &mut self.audio,
        };
        if let Some(last) = queue.last.as_mut() {
            last.duration_ms = (frame.dts_ms - last.dts_ms).max(1);
        }
        let boundary = if self.has_video {
            frame.track == Track::Video && frame.keyframe
        } else {
            true
        };
        let start = *self.fragment_start_ms.get_or_insert(frame.dts_ms);
        let elapsed = frame.dts_ms - start;
        let forced = elapsed >= MAX_FRAGMENT_MS || self.queued_bytes >= MAX_FRAGMENT_BYTES;
        if (boundary && elapsed >= FRAGMENT_MS) || forced {
            let queue = match frame.track {
                Track::Video => &mut self.video,
                Track::Audio => &mut self.audio,
            };
            if let Some(last) = queue.last.take() {
                queue.previous_duration = last.duration_ms;
                queue.ready.push(last);
            }
            self.fragment(out)?;
            self.fragment_start_ms = Some(frame.dts_ms);
            self.queued_bytes = [&self.video, &self.audio]
                .iter()
                .filter_map(|q| q.last.as_ref())
                .map(|s| s.data.len() as u64)
                .sum();
        }
        self.queued_bytes += frame.data.len() as u64;
        match frame.track {
            Track::Video => self.video.add(frame),
            Track::Audio => self.audio.add(frame),
        }
        Ok(())
    }

    /// Everything still queued, as a last fragment, to `out`.
    pub fn finish(&mut self, out: &mut Vec<Bytes>) -> Result<(), Mp4Error> {
        self.video.drain_all();
        self.audio.drain_all();
        self.extra.iter_mut().for_each(TrackQueue::drain_all);
        self.fragment(out)
    }

    /// Adds a frame of extra track `index` (it rides in the fragments the first video
    /// and audio tracks cut); false when there is no such track.
    pub fn push_extra(&mut self, index: usize, frame: &MediaFrame) -> bool {
        let Some(queue) = self.extra.get_mut(index) else {
            return false;
        };
        queue.add(frame);
        self.queued_bytes += frame.data.len() as u64;
        true
    }

    /// Adds an extra track while the file's head is not out yet (before its first
    /// fragment): its index, or `None` when too late or one too many.
    pub fn add_extra(&mut self, extra: ExtraTrack) -> Option<usize> {
        if self.sequence > 0 || !self.with_head || self.tracks.extra.len() >= MAX_EXTRA_TRACKS {
            return None;
        }
        let mut tracks = self.tracks.clone();
        tracks.extra.push(extra);
        self.init_moov = init_moov(&tracks).ok()?;
        self.tracks = tracks;
        self.extra.push(TrackQueue::default());
        Some(self.extra.len() - 1)
    }

    /// Gives a file without audio the audio track of `from` while the file's head is not
    /// out yet (an audio track announced only by its first frame, like MP3's); whether
    /// it could.
    pub fn add_audio(&mut self, from: &Mp4Tracks) -> bool {
        if self.sequence > 0 || !self.with_head || self.tracks.has_audio() || !from.has_audio() {
            return false;
        }
        let mut tracks = self.tracks.clone();
        (tracks.audio, tracks.opus, tracks.entry) =
            (from.audio.clone(), from.opus.clone(), from.entry.clone());
        let Ok(init) = init_moov(&tracks) else {
            return false;
        };
        self.init_moov = init;
        self.tracks = tracks;
        true
    }

    /// The samples ready for the next fragment, by track id.
    fn take_ready(&mut self) -> Vec<(u32, Vec<Sample>)> {
        let main = [
            (VIDEO_TRACK, &mut self.video),
            (AUDIO_TRACK, &mut self.audio),
        ];
        let extra = self
            .extra
            .iter_mut()
            .enumerate()
            .map(|(i, q)| (Mp4Tracks::extra_id(i), q));
        main.into_iter()
            .chain(extra)
            .filter(|(_, q)| !q.ready.is_empty())
            .map(|(id, q)| (id, std::mem::take(&mut q.ready)))
            .collect()
    }

    /// The file's head, before the first fragment: `ftyp`, the `moov` room (a `free`
    /// box; its zeros as a separate, freshly zeroed buffer), the initialization `moov`.
    fn head(
        &mut self,
        tracks: &[(u32, Vec<Sample>)],
        out: &mut Vec<Bytes>,
    ) -> Result<(), Mp4Error> {
        let mut first = FirstFragment::default();
        for (id, samples) in tracks {
            let ms: i64 = samples.iter().map(|s| s.duration_ms).sum();
            first.duration_ms = first.duration_ms.max(ms);
            first.payload_bytes += samples.iter().map(|s| s.data.len() as u64).sum::<u64>();
            if self.tracks.is_video(*id) {
                first.video_samples += samples.len() as u64;
            } else {
                first.audio_samples += samples.len() as u64;
            }
        }
        let mut head = Vec::new();
        ftyp().encode(&mut head).map_err(box_err)?;
        let room = self.room_policy.bytes(&first);
        if room >= 16 {
            let offset = head.len() as u64;
            head.extend_from_slice(&u32::try_from(room).unwrap_or(u32::MAX).to_be_bytes());
            head.extend_from_slice(b"free");
            self.room = Some(Room {
                offset,
                len: room,
                init_moov: offset + room,
            });
            self.written += head.len() as u64;
            out.push(std::mem::take(&mut head).into());
            let zeros = usize::try_from(room - 8).unwrap_or(0);
            self.written += zeros as u64;
            out.push(vec![0; zeros].into());
        }
        head.extend_from_slice(&self.init_moov);
        self.written += head.len() as u64;
        out.push(head.into());
        Ok(())
    }

    fn fragment(&mut self, out: &mut Vec<Bytes>) -> Result<(), Mp4Error> {
        let tracks = self.take_ready();
        if tracks.is_empty() {
            return Ok(());
        }
        if self.sequence == 0 && self.with_head {
            self.head(&tracks, out)?;
        }
        self.sequence += 1;
        let mut moof = moof(self.sequence, &tracks);
        let mut probe = Vec::new();
        moof.encode(&mut probe).map_err(box_err)?;
        let mut offset = probe.len() as i64 + 8;
        for (traf, (_, samples)) in moof.traf.iter_mut().zip(&tracks) {
            if let Some(trun) = traf.trun.first_mut() {
                let fits = i32::try_from(offset).map_err(|_| too_large())?;
                trun.data_offset = Some(fits);
            }
            offset += samples.iter().map(|s| s.data.len() as i64).sum::<i64>();
        }
        let payload: usize = tracks
            .iter()
            .flat_map(|(_, s)| s.iter())
            .map(|x| x.data.len())
            .sum();
        let mut bytes = Vec::with_capacity(probe.len() + 8);
        moof.encode(&mut bytes).map_err(box_err)?;
        self.fragments.push(FragmentRef {
            moof_offset: self.written,
            moof_len: bytes.len() as u32,
            payload_len: payload as u64,
        });
        // The mdat header by hand (fragments stay below MAX_FRAGMENT_BYTES plus a frame, so
        // the 32-bit size form fits), then each sample's bytes as they came: shared.
        let mdat_len = u32::try_from(payload + 8).map_err(|_| too_large())?;
        bytes.extend_from_slice(&mdat_len.to_be_bytes());
        bytes.extend_from_slice(b"mdat");
        self.written += (bytes.len() + payload) as u64;
        out.push(bytes.into());
        for (_, samples) in tracks {
            out.extend(samples.into_iter().map(|s| s.data));
        }
        Ok(())
    }
}

/// The `moof` of fragment `sequence` holding `tracks`' samples (data offsets to be set).
fn moof(sequence: u32, tracks: &[(u32, Vec<Sample>)]) -> Moof {
    let traf = tracks
        .iter()
        .map(|(id, samples)| {
            let entries = samples
                .iter()
                .map(|s| TrunEntry {
                    duration: Some(u32::try_from(s.duration_ms).unwrap_or(0)),
                    size: Some(u32::try_from(s.data.len()).unwrap_or(u32::MAX)),
                    flags: Some(if s.sync { SYNC_FLAGS } else { NON_SYNC_FLAGS }),
                    cts: Some(i32::try_from(s.cts_ms).unwrap_or(0)),
                })
                .collect();
            let base = samples.first().map_or(0, |s| s.dts_ms.max(0) as u64);
            Traf {
                tfhd: Tfhd {
                    track_id: *id,
                    default_base_is_moof: true,
                    ..Default::default()
                },
                tfdt: Some(Tfdt {
                    base_media_decode_time: base,
                }),
                trun: vec![Trun {
                    data_offset: Some(0),
                    entries,
                }],
                ..Default::default()
            }
        })
        .collect();
    Moof {
        mfhd: Mfhd {
            sequence_number: sequence,
        },
        traf,
    }
}

/// A byte range of a file: (offset, length).
pub type ByteRange = (u64, u64);

/// Fixtures shared by the tests of the MP4 writer, its finish and their drivers.
#[cfg(test)]
pub(crate) mod test_support {
    use super::{Fragmenter, MoovRoom, Mp4Finish, Mp4Tracks};
    use crate::formats::codec::aac::parse_audio_specific_config;
    use crate::formats::codec::avc::parse_avc_config;
    use crate::formats::flv::frames::{MediaFrame, Track, VideoConfig};

    /// A 320×180 H.264 configuration (one SPS, one PPS).
    pub fn avc() -> VideoConfig {
        let sps = [0x67, 0x42, 0xC0, 0x0D, 0xD9, 0x01, 0x41, 0x9F, 0x9E, 0x10];
        let mut record = vec![1, 0x42, 0xC0, 0x0D, 0xFF, 0xE1, 0, sps.len() as u8];
        record.extend_from_slice(&sps);
        record.extend_from_slice(&[1, 0, 2, 0x68, 0xCE]);
        VideoConfig::Avc(parse_avc_config(&record).unwrap())
    }

    /// An audio-only fragmented file of `frames` AAC frames (23 ms apart, `bytes(i)`
    /// bytes each) with `room`: its bytes as written and its finish.
    pub fn audio_file(
        frames: i64,
        room: MoovRoom,
        bytes: fn(i64) -> usize,
    ) -> (Vec<u8>, Mp4Finish) {
        let tracks = Mp4Tracks {
            video: None,
            audio: parse_audio_specific_config(&[0x11, 0x90]),
            opus: None,
            entry: None,
            extra: Vec::new(),
        };
        let mut fragmenter = Fragmenter::new(tracks, room).unwrap();
        let mut out = Vec::new();
        for i in 0..frames {
            let frame = MediaFrame {
                track: Track::Audio,
                dts_ms: i * 23,
                pts_ms: i * 23,
                keyframe: true,
                data: vec![i as u8; bytes(i)].into(),
                offset: 0,
            };
            fragmenter.push(&frame, &mut out).unwrap();
        }
        fragmenter.finish(&mut out).unwrap();
        (out.concat(), fragmenter.finish_plan())
    }
}
