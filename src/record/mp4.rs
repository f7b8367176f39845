//! MP4 files, cut by interval at the first video keyframe at or after each boundary
//! (audio-only: any frame). While a file grows it is fragmented MP4 (see
//! [`crate::formats::mp4`]: crash-tolerant, every complete fragment readable); when it is
//! closed a [`SegmentEvent::FinishMp4`] turns it into a progressive, moov-first MP4 with
//! complete sample tables, for players that seek poorly in fragmented files. A codec
//! configuration change or a timestamp jump starts a new file, as a new `moov` is needed.
//!
//! Tracks beyond the first video and audio one (Enhanced RTMP multitrack: other
//! renditions, other languages) get a `trak` each, in the order they appeared: in the
//! open file while its first fragment is not cut yet, else from the next file; their
//! frames ride in the fragments the first tracks cut, at their own times (a video one
//! from its first keyframe). One whose configuration changes sits out the rest of the
//! file.

use super::{SegmentEvent, SegmentInfo, Segmenter};
use crate::formats::codec::aac::AacConfig;
use crate::formats::codec::entry::{parse_mp3_frame, AudioEntry};
use crate::formats::codec::opus::OpusConfig;
use crate::formats::flv::frames::{FrameEvent, MediaFrame, Track, VideoConfig};
use crate::formats::mp4::{ExtraTrack, Fragmenter, MoovRoom, Mp4Tracks, MAX_EXTRA_TRACKS};
use crate::media::{CodecConfig, Frame};

#[derive(Debug)]
struct Open {
    info: SegmentInfo,
    fragmenter: Fragmenter,
    has_video: bool,
    has_audio: bool,
    /// Its extra tracks, as [`Mp4Tracks::extra`] lists them, and whether each has had
    /// a frame (a video one starts at a keyframe).
    extra: Vec<(ExtraTrack, bool)>,
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
    /// AC-3, E-AC-3, FLAC or MP3 (read from its first frame).
    entry: Option<AudioEntry>,
    /// Extra tracks seen so far, with their latest configurations.
    extra: Vec<ExtraTrack>,
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
        let tracks = self.tracks();
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
        let extra = tracks.extra.iter().map(|e| (e.clone(), false)).collect();
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
            extra,
            last_ms: frame.dts_ms,
            step_ms: 0,
        });
    }

    /// Notes the configuration of extra track `frame` (a new one joins the next file);
    /// where it is in the open file, if it is there with that configuration.
    fn extra_track(&mut self, frame: &Frame) -> Option<usize> {
        let config = &frame.config.as_ref()?.codec;
        if matches!(config, CodecConfig::Other { .. }) || config.track() != frame.track {
            return None;
        }
        let same =
            |e: &ExtraTrack| e.source_id == frame.track_id && e.config.track() == frame.track;
        match self.extra.iter().position(same) {
            Some(i) => {
                if let Some(known) = self.extra.get_mut(i) {
                    if known.config != *config {
                        known.config = config.clone();
                    }
                }
            }
            None if self.extra.len() < MAX_EXTRA_TRACKS => self.extra.push(ExtraTrack {
                source_id: frame.track_id,
                config: config.clone(),
            }),
            None => return None,
        }
        let open = self.open.as_mut()?;
        let index = match open.extra.iter().position(|(e, _)| same(e)) {
            Some(i) => i,
            // Not in the file: it joins while the file's head is not out yet.
            None => {
                let extra = ExtraTrack {
                    source_id: frame.track_id,
                    config: config.clone(),
                };
                let i = open.fragmenter.add_extra(extra.clone())?;
                open.extra.push((extra, false));
                i
            }
        };
        if open
            .extra
            .get(index)
            .is_none_or(|(e, _)| e.config != *config)
        {
            return None;
        }
        let started = &mut open.extra.get_mut(index)?.1;
        *started |= frame.keyframe || frame.track == Track::Audio;
        started.then_some(index)
    }

    /// An audio configuration takes effect: a new file when it changed, or when the
    /// open one has no audio track.
    fn audio_changed(&mut self, changed: bool) {
        let tracks = self.tracks();
        let Some(open) = self.open.as_mut() else {
            return;
        };
        // A file without audio whose head is not out yet takes the track in.
        if !changed && !open.has_audio && open.fragmenter.add_audio(&tracks) {
            open.has_audio = true;
            return;
        }
        self.restart |= changed || !open.has_audio;
    }

    /// MP3 has no configuration: the header of its first frame is one.
    fn sniff_mp3(&mut self, frame: &MediaFrame) {
        let unconfigured = self.audio.is_none() && self.opus.is_none() && self.entry.is_none();
        if frame.track == Track::Audio && unconfigured {
            if let Some(mp3) = parse_mp3_frame(&frame.data) {
                self.entry = Some(mp3);
                self.audio_changed(false);
            }
        }
    }

    /// The tracks a file opened now would have.
    fn tracks(&self) -> Mp4Tracks {
        Mp4Tracks {
            video: self.video.clone(),
            audio: self.audio.clone(),
            opus: self.opus.clone(),
            entry: self.entry.clone(),
            extra: self.extra.clone(),
        }
    }

    fn frame(&mut self, frame: &MediaFrame, out: &mut Vec<SegmentEvent>) {
        self.sniff_mp3(frame);
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
                self.audio = Some(config.clone());
                (self.opus, self.entry) = (None, None);
                self.audio_changed(*changed);
            }
            FrameEvent::OpusConfig { config, changed } => {
                self.opus = Some(config.clone());
                (self.audio, self.entry) = (None, None);
                self.audio_changed(*changed);
            }
            FrameEvent::EntryConfig { config, changed } => {
                self.entry = Some(config.clone());
                (self.audio, self.opus) = (None, None);
                self.audio_changed(*changed);
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

    fn push_extra(&mut self, frame: &Frame, _out: &mut Vec<SegmentEvent>) {
        let index = self.extra_track(frame);
        let added = match (index, self.open.as_mut()) {
            (Some(index), Some(open)) => {
                let media = MediaFrame {
                    track: frame.track,
                    dts_ms: frame.dts_ms,
                    pts_ms: frame.pts_ms,
                    keyframe: frame.keyframe,
                    data: frame.payload.clone(),
                    offset: 0,
                };
                let added = open.fragmenter.push_extra(index, &media);
                open.info.frames += u64::from(added);
                added
            }
            _ => false,
        };
        self.dropped += u64::from(!added);
    }
}
