//! MP4 files, cut by interval at the first video keyframe at or after each boundary
//! (audio-only: any frame). While a file grows it is fragmented MP4 (see
//! [`crate::formats::mp4`]: crash-tolerant, every complete fragment readable); when it is
//! closed a [`SegmentEvent::FinishMp4`] turns it into a progressive, moov-first MP4 with
//! complete sample tables, for players that seek poorly in fragmented files. A codec
//! configuration change or a timestamp jump starts a new file, as a new `moov` is needed.

use super::{SegmentEvent, SegmentInfo, Segmenter};
use crate::formats::codec::aac::AacConfig;
use crate::formats::codec::opus::OpusConfig;
use crate::formats::flv::frames::{FrameEvent, MediaFrame, Track, VideoConfig};
use crate::formats::mp4::{Fragmenter, MoovRoom, Mp4Tracks};

#[derive(Debug)]
struct Open {
    info: SegmentInfo,
    fragmenter: Fragmenter,
    has_video: bool,
    has_audio: bool,
    last_ms: i64,
    step_ms: i64,
}

/// See the module doc.
#[derive(Debug, Default)]
pub struct Mp4Segmenter {
    target_ms: Option<i64>,
    video: Option<VideoConfig>,
    audio: Option<AacConfig>,
    opus: Option<OpusConfig>,
    open: Option<Open>,
    next_index: u32,
    restart: bool,
    dropped: u64,
    errors: Vec<String>,
    keep_fragmented: bool,
    input_bytes: Option<u64>,
    chunks: Vec<bytes::Bytes>,
}

impl Mp4Segmenter {
    /// One file (`None`) or files of `target_ms`.
    pub fn new(target_ms: Option<i64>) -> Self {
        Self {
            target_ms,
            ..Self::default()
        }
    }

    /// Leaves closed files fragmented (no progressive rewrite).
    pub fn keep_fragmented(mut self, keep: bool) -> Self {
        self.keep_fragmented = keep;
        self
    }

    /// The input is `bytes` long (an offline remux): sizes the room left for the
    /// `moov` at the head of each file, so most files finish in place.
    pub fn input_bytes(mut self, bytes: Option<u64>) -> Self {
        self.input_bytes = bytes;
        self
    }

    /// Box errors met (a configuration mp4-atom could not encode).
    pub fn errors(&self) -> &[String] {
        &self.errors
    }

    /// Hands what the fragmenter wrote (or its error) to `out`.
    fn emit(
        &mut self,
        result: Result<(), crate::formats::mp4::Mp4Error>,
        out: &mut Vec<SegmentEvent>,
    ) {
        if let Err(e) = result {
            self.errors.push(e.to_string());
        }
        for bytes in self.chunks.drain(..) {
            if let Some(open) = self.open.as_mut() {
                open.info.bytes += bytes.len() as u64;
            }
            out.push(SegmentEvent::Data(bytes));
        }
    }

    fn close(&mut self, next_ms: Option<i64>, out: &mut Vec<SegmentEvent>) {
        let Some(open) = self.open.as_mut() else {
            return;
        };
        let last = open.fragmenter.finish(&mut self.chunks);
        self.emit(last, out);
        let Some(open) = self.open.take() else {
            return;
        };
        let end_ms = next_ms
            .unwrap_or(open.last_ms + open.step_ms)
            .max(open.info.start_ms);
        if !self.keep_fragmented {
            out.push(SegmentEvent::FinishMp4(Box::new(
                open.fragmenter.finish_plan(),
            )));
        }
        // The byte count is the fragmented file's; finishing in place keeps it, a
        // rebuild changes it (the caller has the file).
        out.push(SegmentEvent::Close(SegmentInfo {
            end_ms,
            ..open.info
        }));
    }

    fn open_file(&mut self, frame: &MediaFrame, discontinuity: bool, out: &mut Vec<SegmentEvent>) {
        let tracks = Mp4Tracks {
            video: self.video.clone(),
            audio: self.audio.clone(),
            opus: self.opus.clone(),
        };
        // No room for a moov that will never be written.
        let room = if self.keep_fragmented {
            MoovRoom::default()
        } else {
            MoovRoom {
                max_ms: self.target_ms,
                input_bytes: self.input_bytes,
            }
        };
        let has_video = tracks.video.is_some();
        let has_audio = tracks.has_audio();
        let fragmenter = match Fragmenter::new(tracks, room) {
            Ok(f) => f,
            Err(e) => {
                self.errors.push(e.to_string());
                return;
            }
        };
        let index = self.next_index;
        self.next_index += 1;
        out.push(SegmentEvent::Open {
            index,
            discontinuity,
        });
        self.open = Some(Open {
            info: SegmentInfo {
                index,
                start_ms: frame.dts_ms,
                end_ms: frame.dts_ms,
                bytes: 0,
                frames: 0,
                discontinuity,
            },
            fragmenter,
            has_video,
            has_audio,
            last_ms: frame.dts_ms,
            step_ms: 0,
        });
    }

    fn frame(&mut self, frame: &MediaFrame, out: &mut Vec<SegmentEvent>) {
        let has_video = self.video.is_some();
        let boundary = if has_video {
            frame.track == Track::Video && frame.keyframe
        } else {
            frame.track == Track::Audio
        };
        let due = match &self.open {
            None => boundary,
            Some(open) => {
                boundary
                    && (self.restart
                        || self
                            .target_ms
                            .is_some_and(|t| frame.dts_ms - open.info.start_ms >= t))
            }
        };
        if due {
            let discontinuity = self.open.is_some() && std::mem::take(&mut self.restart);
            self.close(
                if discontinuity {
                    None
                } else {
                    Some(frame.dts_ms)
                },
                out,
            );
            self.open_file(frame, discontinuity, out);
        }
        let carried = self.open.as_ref().is_some_and(|o| match frame.track {
            Track::Video => o.has_video,
            Track::Audio => o.has_audio,
        });
        if !carried {
            self.dropped += 1;
            return;
        }
        let chunks = &mut self.chunks;
        let result = self.open.as_mut().map_or(Ok(()), |o| {
            o.info.frames += 1;
            let clock = if o.has_video {
                frame.track == Track::Video
            } else {
                true
            };
            if clock && frame.dts_ms > o.last_ms {
                o.step_ms = frame.dts_ms - o.last_ms;
                o.last_ms = frame.dts_ms;
            }
            o.fragmenter.push(frame, chunks)
        });
        self.emit(result, out);
    }
}

impl Segmenter for Mp4Segmenter {
    fn push(&mut self, event: &FrameEvent, out: &mut Vec<SegmentEvent>) {
        match event {
            FrameEvent::VideoConfig { config, changed } => {
                self.restart |= *changed && self.open.is_some();
                self.video = Some(config.clone());
            }
            FrameEvent::AudioConfig { config, changed } => {
                self.restart |= (*changed || self.open.as_ref().is_some_and(|o| !o.has_audio))
                    && self.open.is_some();
                self.audio = Some(config.clone());
                self.opus = None;
            }
            FrameEvent::OpusConfig { config, changed } => {
                self.restart |= (*changed || self.open.as_ref().is_some_and(|o| !o.has_audio))
                    && self.open.is_some();
                self.opus = Some(config.clone());
                self.audio = None;
            }
            FrameEvent::Discontinuity { .. } => self.restart |= self.open.is_some(),
            FrameEvent::Frame(frame) => self.frame(frame, out),
            _ => {}
        }
    }

    fn finish(&mut self, out: &mut Vec<SegmentEvent>) {
        self.close(None, out);
    }

    fn dropped(&self) -> u64 {
        self.dropped
    }
}
