//! The fragmented-MP4 (CMAF) HLS segmenter: frame events in, [`SegmentEvent`]s out.
//!
//! Segments of a target duration, each cut at the first video keyframe at or after the
//! boundary (audio-only: at any frame), measured on stream time, like
//! [`super::ts::TsSegmenter`]'s. A segment is `moof` + `mdat` fragments only (about one
//! per second, [`crate::formats::mp4::Fragmenter`]); the tracks' `ftyp` + `moov` go out
//! once as an [`SegmentEvent::Init`] before the first segment that uses them — the
//! playlist's `EXT-X-MAP` (RFC 8216 §4.3.2.5). A codec configuration change or a
//! timestamp jump closes the segment; the next one starts as a discontinuity, with a new
//! initialization section when the tracks changed. Decode times (`tfdt`) are the
//! stream's own milliseconds, so timestamps are unchanged.
//!
//! Carries H.264, HEVC, AV1 and VP9 video and AAC, Opus, AC-3, E-AC-3, FLAC or MP3 audio
//! as received. [`AutoSegmenter`] picks MPEG-TS or this from the push's first codecs.

use bytes::Bytes;

use super::ts::TsSegmenter;
use super::{SegmentEvent, SegmentInfo, Segmenter};
use crate::formats::codec::aac::AacConfig;
use crate::formats::codec::entry::{parse_mp3_frame, AudioEntry};
use crate::formats::codec::opus::OpusConfig;
use crate::formats::flv::frames::{FrameEvent, MediaFrame, Track, VideoConfig};
use crate::formats::mp4::{init_segment, Fragmenter, Mp4Tracks};

#[derive(Debug)]
struct Open {
    info: SegmentInfo,
    last_dts: i64,
    frame_step_ms: i64,
    fragmenter: Fragmenter,
}

/// See the module doc.
#[derive(Debug, Default)]
pub struct Fmp4Segmenter {
    target_ms: Option<i64>,
    video: Option<VideoConfig>,
    audio: Option<AacConfig>,
    opus: Option<OpusConfig>,
    entry: Option<AudioEntry>,
    /// The tracks of the last initialization section sent.
    tracks: Option<Mp4Tracks>,
    open: Option<Open>,
    next_index: u32,
    /// Fragments written so far (their `mfhd` numbers run on across segments).
    sequence: u32,
    pending_discontinuity: bool,
    dropped: u64,
    fragments: Vec<Bytes>,
}

impl Fmp4Segmenter {
    /// Segments of `target_ms` (`None`: one).
    pub fn new(target_ms: Option<i64>) -> Self {
        Self {
            target_ms,
            ..Self::default()
        }
    }

    fn wanted_tracks(&self) -> Mp4Tracks {
        Mp4Tracks {
            video: self.video.clone(),
            audio: self.audio.clone(),
            opus: if self.audio.is_none() {
                self.opus.clone()
            } else {
                None
            },
            entry: if self.audio.is_none() && self.opus.is_none() {
                self.entry.clone()
            } else {
                None
            },
            extra: Vec::new(),
        }
    }

    fn config_event(&mut self, event: &FrameEvent) {
        let changed = match event {
            FrameEvent::VideoConfig { config, changed } => {
                self.video = Some(config.clone());
                *changed
            }
            FrameEvent::AudioConfig { config, changed } => {
                self.audio = Some(config.clone());
                (self.opus, self.entry) = (None, None);
                *changed
            }
            FrameEvent::OpusConfig { config, changed } => {
                self.opus = Some(config.clone());
                (self.audio, self.entry) = (None, None);
                *changed
            }
            FrameEvent::EntryConfig { config, changed } => {
                self.entry = Some(config.clone());
                (self.audio, self.opus) = (None, None);
                *changed
            }
            FrameEvent::Discontinuity { .. } => true,
            _ => false,
        };
        self.pending_discontinuity |= changed && self.open.is_some();
    }

    fn frame(&mut self, frame: &MediaFrame, out: &mut Vec<SegmentEvent>) {
        if frame.track == Track::Audio && !self.wanted_tracks().has_audio() {
            // MP3 has no configuration: its frame header is one.
            self.entry = parse_mp3_frame(&frame.data);
        }
        let wanted = self.wanted_tracks();
        if frame.track == Track::Audio && !wanted.has_audio() {
            self.dropped += 1; // no configuration yet
            return;
        }
        if self.tracks.as_ref().is_some_and(|t| *t != wanted) {
            // A track appeared or changed codec: new tracks from the next boundary.
            self.pending_discontinuity = true;
        }
        let boundary = wanted.video.is_none() || (frame.track == Track::Video && frame.keyframe);
        let opening = match &self.open {
            None => true,
            Some(open) => {
                boundary
                    && (self.pending_discontinuity
                        || self
                            .target_ms
                            .is_some_and(|t| frame.dts_ms - open.info.start_ms >= t))
            }
        };
        // Every segment starts decodable: with video, at a keyframe.
        if opening && !boundary {
            self.dropped += 1;
            return;
        }
        if opening && !self.cut(frame, wanted, out) {
            self.dropped += 1;
            return;
        }
        self.write(frame, out);
    }

    /// Adds `frame` to the open segment (left out when its track is not in it).
    fn write(&mut self, frame: &MediaFrame, out: &mut Vec<SegmentEvent>) {
        let Some(open) = self.open.as_mut() else {
            self.dropped += 1;
            return;
        };
        let carried = self.tracks.as_ref().is_some_and(|t| match frame.track {
            Track::Video => t.video.is_some(),
            Track::Audio => t.has_audio(),
        });
        if !carried {
            self.dropped += 1;
            return;
        }
        if open.fragmenter.push(frame, &mut self.fragments).is_err() {
            self.dropped += 1;
            return;
        }
        open.info.frames += 1;
        let clock =
            self.tracks.as_ref().is_none_or(|t| t.video.is_none()) || frame.track == Track::Video;
        if clock {
            if frame.dts_ms > open.last_dts {
                open.frame_step_ms = frame.dts_ms - open.last_dts;
            }
            open.last_dts = open.last_dts.max(frame.dts_ms);
        }
        Self::emit(&mut self.fragments, &mut open.info, out);
    }

    fn emit(fragments: &mut Vec<Bytes>, info: &mut SegmentInfo, out: &mut Vec<SegmentEvent>) {
        for bytes in fragments.drain(..) {
            info.bytes += bytes.len() as u64;
            out.push(SegmentEvent::Data(bytes));
        }
    }

    /// Closes the open segment and opens the next at `frame` with `tracks` (their
    /// initialization section first when they changed); false when they cannot be
    /// written.
    fn cut(&mut self, frame: &MediaFrame, tracks: Mp4Tracks, out: &mut Vec<SegmentEvent>) -> bool {
        let discontinuity = self.open.is_some() && std::mem::take(&mut self.pending_discontinuity);
        self.pending_discontinuity = false;
        self.close(
            if discontinuity {
                None
            } else {
                Some(frame.dts_ms)
            },
            out,
        );
        let Ok(fragmenter) = Fragmenter::media_segment(tracks.clone(), self.sequence) else {
            return false;
        };
        let index = self.next_index;
        if self.tracks.as_ref() != Some(&tracks) {
            let Ok(init) = init_segment(&tracks) else {
                return false;
            };
            out.push(SegmentEvent::Init {
                index,
                bytes: init.into(),
            });
            self.tracks = Some(tracks);
        }
        self.next_index += 1;
        self.open = Some(Open {
            info: SegmentInfo {
                index,
                start_ms: frame.dts_ms,
                end_ms: frame.dts_ms,
                bytes: 0,
                frames: 0,
                discontinuity,
            },
            last_dts: frame.dts_ms,
            frame_step_ms: 0,
            fragmenter,
        });
        out.push(SegmentEvent::Open {
            index,
            discontinuity,
        });
        true
    }

    fn close(&mut self, next_start_ms: Option<i64>, out: &mut Vec<SegmentEvent>) {
        let Some(mut open) = self.open.take() else {
            return;
        };
        // A fragment that cannot be encoded is lost; the segment still closes.
        let _ = open.fragmenter.finish(&mut self.fragments);
        self.sequence = open.fragmenter.sequence();
        Self::emit(&mut self.fragments, &mut open.info, out);
        let info = open
            .info
            .closed(open.last_dts, open.frame_step_ms, next_start_ms);
        out.push(SegmentEvent::Close(info));
    }
}

impl Segmenter for Fmp4Segmenter {
    fn push(&mut self, event: &FrameEvent, out: &mut Vec<SegmentEvent>) {
        match event {
            FrameEvent::Frame(frame) => self.frame(frame, out),
            other => self.config_event(other),
        }
    }

    fn finish(&mut self, out: &mut Vec<SegmentEvent>) {
        self.close(None, out);
    }

    fn dropped(&self) -> u64 {
        self.dropped
    }

    fn restart(&mut self) {
        self.pending_discontinuity |= self.open.is_some();
    }
}

/// How long [`AutoSegmenter`] waits for the second track's configuration, ms of stream
/// time (an encoder sends both before its first frames; a push without audio waits this
/// long once).
pub const AUTO_WAIT_MS: i64 = 1_000;
/// Events [`AutoSegmenter`] holds at most while it waits.
pub const AUTO_MAX_HELD: usize = 512;

/// HLS in MPEG-TS segments when the push's codecs allow (H.264, HEVC, AAC, MP3), in fMP4
/// segments when they need it (AV1, VP9, Opus): chosen from the first configurations of
/// both tracks (or of one, after [`AUTO_WAIT_MS`]) and kept for the whole recording — a
/// codec MPEG-TS cannot carry appearing later is refused like in a `ts` recording.
#[derive(Debug, Default)]
pub struct AutoSegmenter {
    target_ms: Option<i64>,
    held: Vec<FrameEvent>,
    first_dts: Option<i64>,
    video: Option<bool>,
    audio: Option<bool>,
    chosen: Option<Box<dyn Segmenter + Send + Sync>>,
}

impl AutoSegmenter {
    /// Segments of `target_ms`.
    pub fn new(target_ms: Option<i64>) -> Self {
        Self {
            target_ms,
            ..Self::default()
        }
    }

    /// Notes what `event` says about the codecs; whether the choice can be made.
    fn observe(&mut self, event: &FrameEvent) -> bool {
        match event {
            FrameEvent::VideoConfig { config, .. } => {
                self.video = Some(matches!(config, VideoConfig::Av1(_) | VideoConfig::Vp9(_)));
            }
            FrameEvent::AudioConfig { .. } => self.audio = Some(false),
            FrameEvent::OpusConfig { .. } => self.audio = Some(true),
            FrameEvent::EntryConfig { .. } => self.audio = Some(true),
            FrameEvent::Frame(f) => {
                if f.track == Track::Audio && self.audio.is_none() {
                    self.audio = Some(false); // MP3: no configuration
                }
                let first = *self.first_dts.get_or_insert(f.dts_ms);
                if f.dts_ms - first >= AUTO_WAIT_MS {
                    return true;
                }
            }
            _ => {}
        }
        (self.video.is_some() && self.audio.is_some()) || self.held.len() >= AUTO_MAX_HELD
    }

    fn choose(&mut self, out: &mut Vec<SegmentEvent>) {
        let fmp4 = self.video == Some(true) || self.audio == Some(true);
        let mut chosen: Box<dyn Segmenter + Send + Sync> = if fmp4 {
            Box::new(Fmp4Segmenter::new(self.target_ms))
        } else {
            Box::new(TsSegmenter::new(self.target_ms))
        };
        // The tracks' first configurations go first: a segment opened at the first video
        // frame then carries the audio track that was announced just after it.
        let first_config = |e: &FrameEvent| {
            matches!(
                e,
                FrameEvent::VideoConfig { changed: false, .. }
                    | FrameEvent::AudioConfig { changed: false, .. }
                    | FrameEvent::OpusConfig { changed: false, .. }
            )
        };
        let (configs, rest): (Vec<FrameEvent>, Vec<FrameEvent>) =
            self.held.drain(..).partition(first_config);
        for event in configs.iter().chain(&rest) {
            chosen.push(event, out);
        }
        self.chosen = Some(chosen);
    }
}

impl Segmenter for AutoSegmenter {
    fn push(&mut self, event: &FrameEvent, out: &mut Vec<SegmentEvent>) {
        if let Some(chosen) = self.chosen.as_mut() {
            return chosen.push(event, out);
        }
        let ready = self.observe(event);
        self.held.push(event.clone());
        if ready {
            self.choose(out);
        }
    }

    fn finish(&mut self, out: &mut Vec<SegmentEvent>) {
        if self.chosen.is_none() && !self.held.is_empty() {
            self.choose(out);
        }
        if let Some(chosen) = self.chosen.as_mut() {
            chosen.finish(out);
        }
    }

    fn dropped(&self) -> u64 {
        self.chosen.as_ref().map_or(0, |c| c.dropped())
    }

    fn restart(&mut self) {
        if let Some(chosen) = self.chosen.as_mut() {
            chosen.restart();
        }
    }
}

#[cfg(test)]
#[path = "fmp4_tests.rs"]
mod tests;
