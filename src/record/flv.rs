//! FLV files: the tags as received, cut by `RecordInterval`, each file with a complete
//! `onMetaData` (duration, filesize, keyframe index) so players show the length and seek.
//!
//! A file opens with the FLV header, a placeholder `onMetaData` of a reserved size, and
//! the sequence headers in effect; tags follow byte for byte (timestamps unchanged). At
//! close the real `onMetaData` is built; when it fits the reservation (padded with a
//! `liverecPadding` array of booleans) it is a same-size [`FlvEvent::Patch`] at offset 13, otherwise
//! a [`FlvEvent::Rewrite`] of the head (the caller copies the body behind it). Cuts fall on
//! the first video keyframe at or after the interval (audio-only: any audio frame),
//! measured on the stream's own clock.
//!
//! A timestamp jump ([`StreamClock`]'s rule, the one the frame reader applies for the
//! other formats) ends the open file at its last frame; the next file starts like the
//! first one — with the first audio frame or video keyframe after the jump — so no file
//! holds timestamps that leap or go back. The sequence headers a file starts with carry
//! the timestamp of its first tag, not the one they were received with (after a 32-bit
//! wrap that was billions of milliseconds earlier).

use std::sync::Arc;

use bytes::Bytes;

use super::SegmentInfo;
use crate::formats::flv::amf0::{append_padding, encode, Amf0};
use crate::formats::flv::clock::DEFAULT_JUMP_THRESHOLD_MS;
use crate::formats::flv::demux::{
    tag_header, write_header, write_tag, FlvTag, MAX_TAG_BYTES, TAG_HEADER,
};
use crate::formats::flv::ingest::FlvIngest;
use crate::formats::flv::mux::{config_body, frame_body, tag_type};
use crate::media::{Config, Frame, Input, Jumps, Track};

/// Index entries to reserve in place in each file's `onMetaData` for files of
/// `target_ms`: two per second of the interval, or an hour of one-per-second GOPs for a
/// single file; beyond that the head is rewritten at close.
pub fn index_reserve(target_ms: Option<i64>) -> usize {
    target_ms.map_or(3600, |t| (t / 500).clamp(16, 86_400) as usize + 16)
}

/// What the writer produces, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlvEvent {
    /// A new file starts.
    Open {
        /// Sequence number.
        index: u32,
    },
    /// Bytes to append (a large tag body is shared with the frame, not copied: a tag
    /// comes as its header, its body and its PreviousTagSize).
    Data(Bytes),
    /// Overwrite `bytes.len()` bytes at `offset` (the final `onMetaData`).
    Patch {
        /// Byte offset in the file.
        offset: u64,
        /// New bytes, same length as those they replace.
        bytes: Vec<u8>,
    },
    /// Replace the file's first `replace` bytes by `head` (the reservation was too small).
    Rewrite {
        /// New head.
        head: Vec<u8>,
        /// Bytes of the old head to drop.
        replace: u64,
    },
    /// The file is complete.
    Close(SegmentInfo),
}

#[derive(Debug)]
struct OpenFile {
    info: SegmentInfo,
    size: u64,
    head_bytes: u64,
    /// Body length of the placeholder onMetaData.
    meta_len: usize,
    keyframes: Vec<(f64, u64)>,
    last_ms: i64,
    step_ms: i64,
    /// A video keyframe has been written.
    video_started: bool,
    /// An audio frame has been written.
    audio_started: bool,
}

impl OpenFile {
    fn has(&self, track: Track) -> bool {
        match track {
            Track::Video => self.video_started,
            Track::Audio => self.audio_started,
        }
    }
}

/// See the module doc.
#[derive(Debug)]
pub struct FlvWriter {
    target_ms: Option<i64>,
    reserve_keyframes: usize,
    has_video: bool,
    has_audio: bool,
    video_header: Option<Arc<Config>>,
    audio_header: Option<Arc<Config>>,
    open: Option<OpenFile>,
    next_index: u32,
    jumps: Jumps,
    /// Reads tags given to [`FlvWriter::push`].
    ingest: FlvIngest,
}

impl FlvWriter {
    /// Files of `target_ms` (`None`: one file), with room for `reserve_keyframes` index
    /// entries in place.
    pub fn new(
        target_ms: Option<i64>,
        reserve_keyframes: usize,
        has_video: bool,
        has_audio: bool,
    ) -> Self {
        Self {
            target_ms,
            reserve_keyframes,
            has_video,
            has_audio,
            video_header: None,
            audio_header: None,
            open: None,
            next_index: 0,
            jumps: Jumps::new(DEFAULT_JUMP_THRESHOLD_MS),
            ingest: FlvIngest::default(),
        }
    }

    /// The same writer with another jump threshold (recovery re-muxes one file that may
    /// predate the cut at jumps: `i64::MAX` keeps it whole).
    pub fn with_jump_threshold(mut self, ms: i64) -> Self {
        self.jumps = Jumps::new(ms);
        self
    }

    /// Feeds one FLV tag (read by the writer's own [`FlvIngest`]).
    pub fn push(&mut self, tag: &FlvTag, out: &mut Vec<FlvEvent>) {
        match self.ingest.push_tag(tag) {
            Input::Frame(frame) => self.push_frame(&frame, out),
            Input::Config(config) => self.push_config(&config, tag.timestamp_ms, out),
            Input::Nothing | Input::Skipped(_) => {}
        }
    }

    /// A configuration announced on its own at `raw_ms` (a sequence header): it goes at
    /// the head of the next file, and into the open one when it changes.
    pub fn push_config(&mut self, config: &Arc<Config>, raw_ms: u32, out: &mut Vec<FlvEvent>) {
        if self.set_config(config) && self.open.is_some() {
            self.write_header(config, raw_ms, out);
        }
    }

    /// Makes `config` the one in effect for its track; whether it is new.
    fn set_config(&mut self, config: &Arc<Config>) -> bool {
        let track = config.codec.track();
        self.note(track);
        let slot = match track {
            Track::Video => &mut self.video_header,
            Track::Audio => &mut self.audio_header,
        };
        if slot.as_ref().is_some_and(|c| Arc::ptr_eq(c, config)) {
            return false;
        }
        *slot = Some(Arc::clone(config));
        true
    }

    /// A track counts as present from its first tag on (the constructor's flags are
    /// hints for the FLV header).
    fn note(&mut self, track: Track) {
        match track {
            Track::Video => self.has_video = true,
            Track::Audio => self.has_audio = true,
        }
    }

    /// Feeds one frame: its tag body as received, or built from it
    /// ([`crate::formats::flv::mux`]); a frame with neither is skipped.
    pub fn push_frame(&mut self, frame: &Frame, out: &mut Vec<FlvEvent>) {
        let (ms, raw) = (frame.dts_ms, frame.dts_ms as u32);
        let track = frame.track;
        self.note(track);
        let changed = frame.config.as_ref().is_some_and(|c| self.set_config(c));
        let Some(body) = frame_body(frame) else {
            return;
        };
        let keyframe = track == Track::Video && frame.keyframe;
        let jumped = self.jumps.frame(track, ms).is_some();
        if jumped && self.open.as_ref().is_some_and(|f| f.has(track)) {
            self.close(None, out);
        }
        let boundary = !self.has_video || keyframe;
        let due = match &self.open {
            // A file starts with the first decodable frame: a keyframe, or audio received
            // before it (no frame of a push, or after a jump, is lost to the wait).
            None => boundary || track == Track::Audio,
            Some(file) => boundary && self.target_ms.is_some_and(|t| ms - file.info.start_ms >= t),
        };
        if due {
            self.close(Some(ms), out);
            self.open_file(ms, raw, out);
        } else if changed {
            if let Some(config) = frame.config.clone() {
                self.write_header(&config, raw, out);
            }
        }
        self.write(track, keyframe, (ms, raw), &body, out);
    }

    fn write_header(&mut self, config: &Config, raw_ms: u32, out: &mut Vec<FlvEvent>) {
        let (Some(file), Some(body)) = (self.open.as_mut(), config_body(config)) else {
            return;
        };
        file.size += push_tag(tag_type(config.codec.track()), raw_ms, &body, out);
        file.info.bytes = file.size;
    }

    fn write(
        &mut self,
        track: Track,
        keyframe: bool,
        (ms, raw): (i64, u32),
        body: &Bytes,
        out: &mut Vec<FlvEvent>,
    ) {
        let has_video = self.has_video;
        let Some(file) = self.open.as_mut() else {
            return;
        };
        if keyframe {
            file.video_started = true;
            file.keyframes
                .push(((ms - file.info.start_ms) as f64 / 1000.0, file.size));
        } else if track == Track::Video && !file.video_started {
            return; // inter frames before the file's first keyframe cannot be decoded
        }
        file.audio_started |= track == Track::Audio;
        file.size += push_tag(tag_type(track), raw, body, out);
        file.info.bytes = file.size;
        file.info.frames += 1;
        let clock = !has_video || track == Track::Video;
        if clock && ms > file.last_ms {
            file.step_ms = ms - file.last_ms;
            file.last_ms = ms;
        }
    }

    /// Where the open file's last video keyframe tag starts, with the configurations in
    /// effect: from there to the end of the file is the current GOP, as received — what
    /// an output added mid-push replays.
    pub fn replay_point(&self) -> Option<(u64, Vec<Arc<Config>>)> {
        let file = self.open.as_ref()?;
        let (_, position) = file.keyframes.last()?;
        let configs = [&self.video_header, &self.audio_header]
            .into_iter()
            .flatten()
            .cloned()
            .collect();
        Some((*position, configs))
    }

    /// Opens a file at unwrapped `ms`; its sequence headers get the first tag's
    /// timestamp as received (`raw_ms`).
    fn open_file(&mut self, ms: i64, raw_ms: u32, out: &mut Vec<FlvEvent>) {
        let index = self.next_index;
        self.next_index += 1;
        out.push(FlvEvent::Open { index });
        let mut head = Vec::new();
        write_header(&mut head, self.has_audio, self.has_video);
        let placeholder = self.metadata(0.0, 0, &[], self.reserved_body());
        let meta_len = placeholder.len();
        write_tag(&mut head, 18, 0, &placeholder);
        let head_bytes = head.len() as u64;
        for config in [&self.video_header, &self.audio_header]
            .into_iter()
            .flatten()
        {
            if let Some(body) = config_body(config) {
                write_tag(&mut head, tag_type(config.codec.track()), raw_ms, &body);
            }
        }
        let size = head.len() as u64;
        out.push(FlvEvent::Data(head.into()));
        self.open = Some(OpenFile {
            info: SegmentInfo {
                index,
                start_ms: ms,
                end_ms: ms,
                bytes: size,
                frames: 0,
                discontinuity: false,
            },
            size,
            head_bytes,
            meta_len,
            keyframes: Vec::new(),
            last_ms: ms,
            step_ms: 0,
            video_started: false,
            audio_started: false,
        });
    }

    fn reserved_body(&self) -> usize {
        self.metadata_len(self.reserve_keyframes)
    }

    fn metadata_len(&self, keyframes: usize) -> usize {
        self.metadata(0.0, 0, &vec![(0.0, 0); keyframes], 0).len()
    }

    /// The `onMetaData` body; with `pad_to` > 0, padded to exactly that many bytes when
    /// it fits.
    fn metadata(
        &self,
        duration_s: f64,
        filesize: u64,
        keyframes: &[(f64, u64)],
        pad_to: usize,
    ) -> Vec<u8> {
        let props = vec![
            ("duration".to_owned(), Amf0::Number(duration_s)),
            ("filesize".to_owned(), Amf0::Number(filesize as f64)),
            ("hasVideo".to_owned(), Amf0::Boolean(self.has_video)),
            ("hasAudio".to_owned(), Amf0::Boolean(self.has_audio)),
            (
                "hasKeyframes".to_owned(),
                Amf0::Boolean(!keyframes.is_empty()),
            ),
            (
                "keyframes".to_owned(),
                Amf0::Object(vec![
                    (
                        "times".to_owned(),
                        Amf0::StrictArray(keyframes.iter().map(|k| Amf0::Number(k.0)).collect()),
                    ),
                    (
                        "filepositions".to_owned(),
                        Amf0::StrictArray(
                            keyframes.iter().map(|k| Amf0::Number(k.1 as f64)).collect(),
                        ),
                    ),
                ]),
            ),
        ];
        let mut body = Vec::new();
        encode(&mut body, &Amf0::String("onMetaData".into()));
        let array_at = body.len();
        encode(&mut body, &Amf0::EcmaArray(props));
        // "liverecPadding": a strict array of booleans, so the metadata can be padded to
        // the byte (see `append_padding`); players skip it (a long string would trip
        // ffmpeg's 256-byte string buffer). Overhead: 2 + 14 name bytes, marker, count.
        const PAD_OVERHEAD: usize = 21;
        if pad_to >= body.len() + PAD_OVERHEAD {
            let bytes = u32::try_from(pad_to - body.len() - PAD_OVERHEAD).unwrap_or(0);
            append_padding(&mut body, array_at, bytes);
        }
        body
    }

    fn close(&mut self, next_ms: Option<i64>, out: &mut Vec<FlvEvent>) {
        let Some(file) = self.open.take() else { return };
        let end_ms = next_ms
            .unwrap_or(file.last_ms + file.step_ms)
            .max(file.info.start_ms);
        let duration_s = (end_ms - file.info.start_ms) as f64 / 1000.0;
        let reserved = file.meta_len;
        let needed = self.metadata_len(file.keyframes.len());
        // Padding takes 21 bytes and then any count but one (see `append_padding`).
        if needed == reserved || (needed + 21 <= reserved && reserved - needed != 22) {
            let body = self.metadata(duration_s, file.size, &file.keyframes, reserved);
            let mut tag = Vec::new();
            write_tag(&mut tag, 18, 0, &body);
            out.push(FlvEvent::Patch {
                offset: 13,
                bytes: tag,
            });
        } else {
            // Positions move by the growth of the metadata tag (numbers have a fixed size).
            let plain = needed;
            let shift = (plain as u64).saturating_sub(reserved as u64);
            let moved: Vec<(f64, u64)> = file
                .keyframes
                .iter()
                .map(|(t, p)| (*t, p + shift))
                .collect();
            let body = self.metadata(duration_s, file.size + shift, &moved, plain);
            let mut head = Vec::new();
            write_header(&mut head, self.has_audio, self.has_video);
            write_tag(&mut head, 18, 0, &body);
            out.push(FlvEvent::Rewrite {
                head,
                replace: file.head_bytes,
            });
        }
        out.push(FlvEvent::Close(SegmentInfo {
            end_ms,
            bytes: file.size,
            ..file.info
        }));
    }

    /// Closes the open file at end of input.
    pub fn finish(&mut self, out: &mut Vec<FlvEvent>) {
        self.close(None, out);
    }
}

/// A tag body at least this long is shared with its frame, not copied into the tag.
pub const SHARED_BODY_BYTES: usize = 512;

/// Appends one tag to `out`; returns its size in the file. A large body goes out as it
/// is, between its header and its PreviousTagSize (no copy of the frame's bytes).
fn push_tag(type_byte: u8, raw_ms: u32, body: &Bytes, out: &mut Vec<FlvEvent>) -> u64 {
    let size = body.len().min(MAX_TAG_BYTES);
    if size < SHARED_BODY_BYTES {
        let mut bytes = Vec::with_capacity(size + TAG_HEADER + 4);
        write_tag(&mut bytes, type_byte, raw_ms, body);
        let len = bytes.len() as u64;
        out.push(FlvEvent::Data(bytes.into()));
        return len;
    }
    let head = tag_header(type_byte, raw_ms, size);
    out.push(FlvEvent::Data(Bytes::copy_from_slice(&head)));
    out.push(FlvEvent::Data(body.slice(..size)));
    let trailer = ((size + TAG_HEADER) as u32).to_be_bytes();
    out.push(FlvEvent::Data(Bytes::copy_from_slice(&trailer)));
    (size + TAG_HEADER + 4) as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::flv::amf0::decode_all;
    use crate::formats::flv::demux::TagKind;
    use crate::formats::flv::FlvDemuxer;

    fn tag(kind: TagKind, ts: u32, data: Vec<u8>) -> FlvTag {
        FlvTag {
            offset: 0,
            kind,
            timestamp_ms: ts,
            data: data.into(),
        }
    }

    /// A video sequence header with a minimal avcC (no parameter sets).
    fn avc_header() -> Vec<u8> {
        vec![0x17, 0, 0, 0, 0, 1, 0x42, 0xC0, 0x1E, 0xFF, 0xE0, 0]
    }

    /// A stream: AVC and AAC sequence headers, then 100 frames at 25 fps with a keyframe
    /// every 25, and audio between.
    fn stream() -> Vec<FlvTag> {
        let mut tags = vec![
            tag(TagKind::Video, 0, avc_header()),
            tag(TagKind::Audio, 0, vec![0xAF, 0, 0x11, 0x90]),
        ];
        for i in 0..100u32 {
            let key = i % 25 == 0;
            tags.push(tag(
                TagKind::Video,
                i * 40,
                vec![if key { 0x17 } else { 0x27 }, 1, 0, 0, 0, 0, 0, 0, 1, 0x65],
            ));
            tags.push(tag(TagKind::Audio, i * 40 + 5, vec![0xAF, 1, 0x21, 0x22]));
        }
        tags
    }

    /// Applies the events to in-memory files.
    fn files(reserve: usize, target: Option<i64>) -> (Vec<Vec<u8>>, Vec<FlvEvent>) {
        files_of(stream(), reserve, target)
    }

    fn files_of(
        tags: Vec<FlvTag>,
        reserve: usize,
        target: Option<i64>,
    ) -> (Vec<Vec<u8>>, Vec<FlvEvent>) {
        let mut w = FlvWriter::new(target, reserve, false, false);
        let mut events = Vec::new();
        for t in tags {
            w.push(&t, &mut events);
        }
        w.finish(&mut events);
        let mut files: Vec<Vec<u8>> = Vec::new();
        for e in &events {
            match e {
                FlvEvent::Open { .. } => files.push(Vec::new()),
                FlvEvent::Data(d) => files.last_mut().unwrap().extend_from_slice(d),
                FlvEvent::Patch { offset, bytes } => {
                    let f = files.last_mut().unwrap();
                    let at = *offset as usize;
                    assert_eq!(
                        f[at..at + 4],
                        bytes[..4],
                        "same tag type and size as the placeholder"
                    );
                    f[at..at + bytes.len()].copy_from_slice(bytes);
                }
                FlvEvent::Rewrite { head, replace } => {
                    let f = files.last_mut().unwrap();
                    f.splice(..*replace as usize, head.iter().copied());
                }
                FlvEvent::Close(_) => {}
            }
        }
        (files, events)
    }

    fn check(file: &[u8]) -> (f64, usize) {
        let mut d = FlvDemuxer::new();
        d.push(file);
        let mut tags = Vec::new();
        while let Some(t) = d.pull().unwrap() {
            tags.push(t);
        }
        assert!(d.finish().is_ok());
        let meta = decode_all(&tags[0].data).unwrap();
        assert_eq!(meta[0], Amf0::String("onMetaData".into()));
        assert_eq!(
            meta[1].get("filesize").and_then(Amf0::as_f64),
            Some(file.len() as f64)
        );
        let positions = match meta[1]
            .get("keyframes")
            .and_then(|k| k.get("filepositions"))
        {
            Some(Amf0::StrictArray(p)) => p
                .iter()
                .filter_map(Amf0::as_f64)
                .map(|p| p as u64)
                .collect::<Vec<_>>(),
            other => panic!("{other:?}"),
        };
        for p in &positions {
            let t = tags
                .iter()
                .find(|t| t.offset == *p)
                .expect("a tag starts at each keyframe position");
            assert_eq!((t.kind, t.data[0]), (TagKind::Video, 0x17));
        }
        assert_eq!(
            tags[1].data[..2],
            [0x17, 0],
            "sequence headers right after the metadata"
        );
        (
            meta[1].get("duration").and_then(Amf0::as_f64).unwrap(),
            positions.len(),
        )
    }

    #[test]
    fn one_file_with_the_index_patched_in_place() {
        let (files, events) = files(100, None);
        assert_eq!(files.len(), 1);
        assert!(events.iter().any(|e| matches!(e, FlvEvent::Patch { .. })));
        assert_eq!(check(&files[0]), (4.0, 4));
    }

    #[test]
    fn a_small_reservation_rewrites_the_head() {
        let (files, events) = files(1, None);
        assert!(events.iter().any(|e| matches!(e, FlvEvent::Rewrite { .. })));
        assert_eq!(check(&files[0]), (4.0, 4));
    }

    #[test]
    fn files_cut_at_keyframes_each_with_headers_and_index() {
        let (files, _) = files(16, Some(2000));
        assert_eq!(files.len(), 2);
        assert_eq!(check(&files[0]), (2.0, 2));
        assert_eq!(check(&files[1]), (2.0, 2));
    }

    /// The tags of a file, sequence headers and metadata included.
    fn tags_of(file: &[u8]) -> Vec<FlvTag> {
        let mut d = FlvDemuxer::new();
        d.push(file);
        let mut tags = Vec::new();
        while let Some(t) = d.pull().unwrap() {
            tags.push(t);
        }
        tags
    }

    /// `stream()` with every timestamp from the `at`-th tag on moved by `by` ms.
    fn shifted(tags: Vec<FlvTag>, at: usize, by: i64) -> Vec<FlvTag> {
        tags.into_iter()
            .enumerate()
            .map(|(i, mut t)| {
                if i >= at {
                    t.timestamp_ms = (i64::from(t.timestamp_ms) + by) as u32;
                }
                t
            })
            .collect()
    }

    /// A +3 h jump and then back: a file ends at each jump (not at the next interval),
    /// and no file's timestamps leap or go back.
    #[test]
    fn timestamp_jumps_end_the_file() {
        const HOURS_3: i64 = 3 * 3600 * 1000;
        // Tags 2.. are frames (two per 40 ms); the jumps land on frame 50 (a keyframe)
        // and frame 63 (an inter frame, 1.3 s into the jumped part).
        let tags = shifted(shifted(stream(), 2 + 2 * 50, HOURS_3), 2 + 2 * 63, -HOURS_3);
        let (files, events) = files_of(tags, 64, Some(60_000));
        let spans: Vec<(i64, i64)> = events
            .iter()
            .filter_map(|e| match e {
                FlvEvent::Close(i) => Some((i.start_ms, i.end_ms)),
                _ => None,
            })
            .collect();
        assert_eq!(
            spans,
            vec![
                (0, 2000),
                (HOURS_3 + 2000, HOURS_3 + 2520),
                // Back at 2.52 s: an audio frame opens the file; video from the next
                // keyframe (frame 75) on.
                (2525, 4000),
            ]
        );
        for file in &files {
            let times: Vec<u32> = tags_of(file)
                .iter()
                .skip(1)
                .map(|t| t.timestamp_ms)
                .collect();
            let (first, last) = (times[0], *times.last().unwrap());
            assert!(last - first < 3000, "{first}..{last}");
            assert!(times.windows(2).all(|w| w[1] + 100 >= w[0]), "{times:?}");
            check(file);
        }
    }

    /// After a 32-bit wrap, a file's sequence headers carry its first tag's timestamp,
    /// not the pre-wrap one they were received with.
    #[test]
    fn sequence_headers_take_the_cut_timestamp() {
        let base = u32::MAX - 1000;
        let tags: Vec<FlvTag> = stream()
            .into_iter()
            .map(|mut t| {
                t.timestamp_ms = t.timestamp_ms.wrapping_add(base);
                t
            })
            .collect();
        let (files, _) = files_of(tags, 16, Some(2000));
        assert_eq!(files.len(), 2);
        for file in &files {
            let tags = tags_of(file);
            let first_frame = tags[3].timestamp_ms;
            assert_eq!(tags[1].timestamp_ms, first_frame, "video sequence header");
            assert_eq!(tags[2].timestamp_ms, first_frame, "audio sequence header");
        }
        assert!(tags_of(&files[1])[1].timestamp_ms < 2000, "after the wrap");
    }
}
