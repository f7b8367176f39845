//! One consumer's view of a push's frames: the configurations it has not seen yet and
//! the timestamp jumps on its tracks, as [`FrameEvent`]s before each frame.
//!
//! A jump: a track's decode time moving by more than the threshold
//! ([`crate::formats::flv::clock::DEFAULT_JUMP_THRESHOLD_MS`], configurable) in either
//! direction from that track's previous frame; smaller steps back are tolerated. The
//! same rule cuts every format, so FLV, HLS, MP4 and AAC files end at the same places.

use std::sync::Arc;

use super::{Codec, CodecConfig, Config, Frame, FrameEvent, MediaFrame, Track, VideoConfig};
use crate::formats::codec::aac::AacConfig;

/// A timestamp jump on one track.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Jump {
    /// The track.
    pub track: Track,
    /// Its previous decode time, ms.
    pub from_ms: i64,
    /// Its new decode time, ms.
    pub to_ms: i64,
}

/// Per-track jump detection (see the module doc).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Jumps {
    threshold_ms: i64,
    last_video_ms: Option<i64>,
    last_audio_ms: Option<i64>,
}

impl Jumps {
    /// Jumps beyond `threshold_ms`.
    pub fn new(threshold_ms: i64) -> Self {
        Self {
            threshold_ms,
            last_video_ms: None,
            last_audio_ms: None,
        }
    }

    /// The threshold, ms.
    pub fn threshold_ms(&self) -> i64 {
        self.threshold_ms
    }

    /// The same threshold, no frame seen yet.
    pub fn fresh(&self) -> Self {
        Self::new(self.threshold_ms)
    }

    /// Records a frame of `track` at `dts_ms`; the jump from that track's previous
    /// frame, if it is one.
    pub fn frame(&mut self, track: Track, dts_ms: i64) -> Option<Jump> {
        let last = match track {
            Track::Video => &mut self.last_video_ms,
            Track::Audio => &mut self.last_audio_ms,
        };
        let from_ms = last.replace(dts_ms)?;
        ((dts_ms - from_ms).abs() > self.threshold_ms).then_some(Jump {
            track,
            from_ms,
            to_ms: dts_ms,
        })
    }
}

/// See the module doc.
#[derive(Debug, Clone)]
pub struct Timeline {
    jumps: Jumps,
    video: Option<Arc<Config>>,
    audio: Option<Arc<Config>>,
    mp3: bool,
}

impl Timeline {
    /// A timeline cutting at jumps beyond `jump_threshold_ms`.
    pub fn new(jump_threshold_ms: i64) -> Self {
        Self {
            jumps: Jumps::new(jump_threshold_ms),
            video: None,
            audio: None,
            mp3: false,
        }
    }

    /// The video configuration in effect.
    pub fn video_config(&self) -> Option<&VideoConfig> {
        match self.video.as_deref().map(|c| &c.codec) {
            Some(CodecConfig::Video(v)) => Some(v),
            _ => None,
        }
    }

    /// The AAC configuration in effect.
    pub fn audio_config(&self) -> Option<&AacConfig> {
        match self.audio.as_deref().map(|c| &c.codec) {
            Some(CodecConfig::Audio(a)) => Some(a),
            _ => None,
        }
    }

    /// Whether the audio track is MP3.
    pub fn audio_is_mp3(&self) -> bool {
        self.mp3
    }

    /// A configuration takes effect (with a frame, or announced on its own): an event
    /// unless it is the one in effect.
    pub fn config(&mut self, config: &Arc<Config>, out: &mut Vec<FrameEvent>) {
        let slot = match config.codec.track() {
            Track::Video => &mut self.video,
            Track::Audio => &mut self.audio,
        };
        if slot.as_ref().is_some_and(|c| Arc::ptr_eq(c, config)) {
            return;
        }
        let changed = slot.as_ref().is_some_and(|c| c.codec != config.codec);
        *slot = Some(Arc::clone(config));
        match &config.codec {
            CodecConfig::Video(v) => out.push(FrameEvent::VideoConfig {
                config: v.clone(),
                changed,
            }),
            CodecConfig::Audio(a) => out.push(FrameEvent::AudioConfig {
                config: a.clone(),
                changed,
            }),
            CodecConfig::Opus(a) => out.push(FrameEvent::OpusConfig {
                config: a.clone(),
                changed,
            }),
            CodecConfig::Entry(a) => out.push(FrameEvent::EntryConfig {
                config: a.clone(),
                changed,
            }),
            CodecConfig::Other { .. } => {}
        }
    }

    /// Reads one frame: a configuration it brings first, then a jump, then the frame
    /// (a frame of a codec no recorder but FLV writes is skipped).
    pub fn push(&mut self, frame: &Frame, out: &mut Vec<FrameEvent>) {
        if let Some(config) = &frame.config {
            self.config(config, out);
        }
        if let Codec::Other(code) = frame.codec {
            out.push(FrameEvent::Skipped {
                offset: 0,
                reason: format!(
                    "unsupported {} codec {}",
                    track_name(frame.track),
                    codec_name(code)
                ),
            });
            return;
        }
        self.mp3 |= frame.codec == Codec::Mp3;
        if let Some(jump) = self.jumps.frame(frame.track, frame.dts_ms) {
            out.push(FrameEvent::Discontinuity {
                track: jump.track,
                from_ms: jump.from_ms,
                to_ms: jump.to_ms,
            });
        }
        out.push(FrameEvent::Frame(MediaFrame {
            track: frame.track,
            dts_ms: frame.dts_ms,
            pts_ms: frame.pts_ms,
            keyframe: frame.keyframe,
            data: frame.payload.clone(),
            offset: 0,
        }));
    }
}

fn track_name(track: Track) -> &'static str {
    match track {
        Track::Video => "video",
        Track::Audio => "audio",
    }
}

/// A codec id or FourCC, readable.
pub fn codec_name(code: u32) -> String {
    let bytes = code.to_be_bytes();
    if bytes.iter().all(u8::is_ascii_graphic) {
        String::from_utf8_lossy(&bytes).into_owned()
    } else {
        format!("id {code}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn aac(raw: &[u8]) -> Arc<Config> {
        let config = crate::formats::codec::aac::parse_audio_specific_config(raw).unwrap();
        Arc::new(Config {
            codec: CodecConfig::Audio(config),
            flv: None,
        })
    }

    fn frame(dts: i64, config: Option<&Arc<Config>>) -> Frame {
        Frame {
            track_id: 0,
            track: Track::Audio,
            codec: Codec::Aac,
            dts_ms: dts,
            pts_ms: dts,
            keyframe: true,
            payload: Bytes::from_static(&[0x21]),
            config: config.cloned(),
            flv: None,
        }
    }

    fn kinds(events: &[FrameEvent]) -> Vec<&'static str> {
        events
            .iter()
            .map(|e| match e {
                FrameEvent::AudioConfig { changed: false, .. } => "config",
                FrameEvent::AudioConfig { changed: true, .. } => "changed",
                FrameEvent::Frame(_) => "frame",
                FrameEvent::Discontinuity { .. } => "jump",
                _ => "other",
            })
            .collect()
    }

    #[test]
    fn configurations_once_then_changes_then_jumps() {
        let (first, second) = (aac(&[0x11, 0x90]), aac(&[0x12, 0x10]));
        let mut t = Timeline::new(10_000);
        let mut out = Vec::new();
        t.push(&frame(0, Some(&first)), &mut out);
        t.push(&frame(23, Some(&first)), &mut out);
        assert_eq!(kinds(&out), ["config", "frame", "frame"]);
        out.clear();
        t.push(&frame(46, Some(&second)), &mut out);
        t.push(&frame(60_000, Some(&second)), &mut out);
        assert_eq!(kinds(&out), ["changed", "frame", "jump", "frame"]);
        assert_eq!(t.audio_config().map(|c| c.sample_rate), Some(44_100));
    }

    #[test]
    fn a_timeline_joining_midway_gets_the_configuration_with_its_first_frame() {
        let config = aac(&[0x11, 0x90]);
        let mut late = Timeline::new(10_000);
        let mut out = Vec::new();
        late.push(&frame(5_000, Some(&config)), &mut out);
        assert_eq!(kinds(&out), ["config", "frame"]);
    }

    #[test]
    fn other_codecs_are_skipped_by_name() {
        let mut t = Timeline::new(10_000);
        let mut out = Vec::new();
        let av1 = Frame {
            track: Track::Video,
            codec: Codec::Other(u32::from_be_bytes(*b"av01")),
            ..frame(0, None)
        };
        t.push(&av1, &mut out);
        assert!(
            matches!(&out[..], [FrameEvent::Skipped { reason, .. }] if reason.contains("av01")),
            "{out:?}"
        );
    }

    #[test]
    fn jumps_per_track_beyond_the_threshold() {
        let mut c = Jumps::new(10_000);
        assert_eq!(c.frame(Track::Video, 0), None);
        assert_eq!(c.frame(Track::Audio, 5), None);
        assert_eq!(c.frame(Track::Video, 10_000), None, "exactly the threshold");
        assert_eq!(c.frame(Track::Video, 9_000), None, "a small step back");
        let jump = c.frame(Track::Video, 10_809_000);
        assert_eq!(
            jump,
            Some(Jump {
                track: Track::Video,
                from_ms: 9_000,
                to_ms: 10_809_000
            })
        );
        assert!(c.frame(Track::Audio, 10_809_005).is_some(), "per track");
        assert!(c.frame(Track::Video, 9_040).is_some(), "backwards too");
    }
}
