//! The MPEG-TS segmenter: frame events in, [`SegmentEvent`]s out.
//!
//! One file (no target) or segments of a target duration, each cut at the first video
//! keyframe at or after the boundary (audio-only: at any frame), measured on stream time.
//! Every segment starts with PAT/PMT and, for video, a keyframe with its parameter sets,
//! so it decodes alone. A codec configuration change or a timestamp jump closes the
//! segment and opens the next as a discontinuity. Frames that arrive before their codec
//! configuration are dropped and counted.

use super::{SegmentEvent, SegmentInfo};
use crate::formats::codec::aac::AacConfig;
use crate::formats::flv::frames::{FrameEvent, MediaFrame, Track, VideoConfig};
use crate::formats::mpegts::{to_annex_b, TsMuxer, TsTracks};

#[derive(Debug)]
struct Open {
    info: SegmentInfo,
    last_dts: i64,
    frame_step_ms: i64,
}

/// See the module doc.
#[derive(Debug, Default)]
pub struct TsSegmenter {
    target_ms: Option<i64>,
    video: Option<VideoConfig>,
    audio: Option<AacConfig>,
    mp3: bool,
    mux: Option<TsMuxer>,
    tracks: Option<TsTracks>,
    open: Option<Open>,
    next_index: u32,
    pending_discontinuity: bool,
    dropped: u64,
    scratch: Vec<u8>,
}

impl TsSegmenter {
    /// One file (`None`) or segments of `target_ms`.
    pub fn new(target_ms: Option<i64>) -> Self {
        Self {
            target_ms,
            ..Self::default()
        }
    }

    /// Frames dropped so far.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// The video configuration in effect (for reports).
    pub fn video_config(&self) -> Option<&VideoConfig> {
        self.video.as_ref()
    }

    /// Feeds one reader event.
    pub fn push(&mut self, event: &FrameEvent, out: &mut Vec<SegmentEvent>) {
        match event {
            FrameEvent::VideoConfig { config, changed } => {
                self.pending_discontinuity |= *changed && self.open.is_some();
                self.video = Some(config.clone());
            }
            FrameEvent::AudioConfig { config, changed } => {
                self.pending_discontinuity |= *changed && self.open.is_some();
                self.audio = Some(config.clone());
            }
            FrameEvent::Discontinuity { .. } => self.pending_discontinuity |= self.open.is_some(),
            FrameEvent::Frame(frame) => self.frame(frame, out),
            _ => {}
        }
    }

    fn payload(&mut self, frame: &MediaFrame) -> Option<Vec<u8>> {
        match frame.track {
            Track::Video => {
                let config = self.video.as_ref()?;
                let mut out = Vec::with_capacity(frame.data.len() + 64);
                to_annex_b(config, &frame.data, frame.keyframe, &mut out).then_some(out)
            }
            Track::Audio if self.mp3 => Some(frame.data.clone()),
            Track::Audio => {
                let config = self.audio.as_ref()?;
                let header = config.adts_header(frame.data.len())?;
                let mut out = Vec::with_capacity(frame.data.len() + 7);
                out.extend_from_slice(&header);
                out.extend_from_slice(&frame.data);
                Some(out)
            }
        }
    }

    fn frame(&mut self, frame: &MediaFrame, out: &mut Vec<SegmentEvent>) {
        if frame.track == Track::Audio && self.audio.is_none() && !self.mp3 {
            self.mp3 = frame.data.first() == Some(&0xFF)
                && frame.data.get(1).is_some_and(|b| b & 0xE0 == 0xE0);
        }
        let tracks = *self.tracks.get_or_insert(TsTracks {
            video: self
                .video
                .as_ref()
                .map(|v| matches!(v, VideoConfig::Hevc(_))),
            audio: if self.audio.is_some() {
                Some(true)
            } else if self.mp3 {
                Some(false)
            } else {
                None
            },
        });
        let carried = match frame.track {
            Track::Video => tracks.video.is_some(),
            Track::Audio => tracks.audio.is_some(),
        };
        if !carried {
            self.dropped += 1;
            return;
        }
        if frame.track == Track::Video && self.open.is_none() && !frame.keyframe {
            self.dropped += 1;
            return;
        }
        let Some(payload) = self.payload(frame) else {
            self.dropped += 1;
            return;
        };
        self.maybe_cut(frame, tracks, out);
        let mux = self.mux.get_or_insert_with(|| TsMuxer::new(tracks));
        self.scratch.clear();
        if self.open.as_ref().is_some_and(|o| o.info.frames == 0) {
            mux.write_tables(&mut self.scratch);
        }
        mux.write_frame(frame, &payload, &mut self.scratch);
        if let Some(open) = self.open.as_mut() {
            open.info.bytes += self.scratch.len() as u64;
            open.info.frames += 1;
            let clock = tracks.video.is_none() || frame.track == Track::Video;
            if clock {
                if frame.dts_ms > open.last_dts {
                    open.frame_step_ms = frame.dts_ms - open.last_dts;
                }
                open.last_dts = open.last_dts.max(frame.dts_ms);
            }
        }
        out.push(SegmentEvent::Data(std::mem::take(&mut self.scratch)));
    }

    fn maybe_cut(&mut self, frame: &MediaFrame, tracks: TsTracks, out: &mut Vec<SegmentEvent>) {
        let boundary = tracks.video.is_none() || (frame.track == Track::Video && frame.keyframe);
        let cut = match &self.open {
            None => true,
            Some(open) => {
                boundary
                    && (self.pending_discontinuity
                        || self
                            .target_ms
                            .is_some_and(|t| frame.dts_ms - open.info.start_ms >= t))
            }
        };
        if !cut {
            return;
        }
        let discontinuity = self.open.is_some() && std::mem::take(&mut self.pending_discontinuity);
        self.close(
            if discontinuity {
                None
            } else {
                Some(frame.dts_ms)
            },
            out,
        );
        let index = self.next_index;
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
        });
        out.push(SegmentEvent::Open {
            index,
            discontinuity,
        });
    }

    fn close(&mut self, next_start_ms: Option<i64>, out: &mut Vec<SegmentEvent>) {
        if let Some(open) = self.open.take() {
            let estimated_end = open.last_dts + open.frame_step_ms;
            let end = match next_start_ms {
                Some(next) if next >= open.info.start_ms => next,
                _ => estimated_end,
            };
            out.push(SegmentEvent::Close(SegmentInfo {
                end_ms: end.max(open.info.start_ms),
                ..open.info
            }));
        }
    }

    /// Closes the open file at end of input.
    pub fn finish(&mut self, out: &mut Vec<SegmentEvent>) {
        self.close(None, out);
    }
}
