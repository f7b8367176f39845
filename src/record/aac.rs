//! Audio-only AAC files (ADTS), cut by interval: a new file at the first audio frame at
//! or after each boundary of stream time. A configuration change or timestamp jump also
//! starts a new file (ADTS cannot mark either inside one).

use super::{SegmentEvent, SegmentInfo, Segmenter};
use crate::formats::adts::AdtsMuxer;
use crate::formats::codec::entry::parse_mp3_frame;
use crate::formats::flv::frames::{FrameEvent, Track};

/// See the module doc.
#[derive(Debug, Default)]
pub struct AacSegmenter {
    target_ms: Option<i64>,
    muxer: AdtsMuxer,
    open: Option<(SegmentInfo, i64)>,
    next_index: u32,
    restart: bool,
    scratch: Vec<u8>,
    /// The Opus refusal was reported.
    refused: bool,
}

impl AacSegmenter {
    /// One file (`None`) or files of `target_ms`.
    pub fn new(target_ms: Option<i64>) -> Self {
        Self {
            target_ms,
            ..Self::default()
        }
    }

    /// An audio frame (`event`, at `dts_ms`): into the open file, or a new one when due.
    fn frame(&mut self, event: &FrameEvent, dts_ms: i64, out: &mut Vec<SegmentEvent>) {
        let due = match &self.open {
            None => true,
            Some((info, _)) => {
                self.restart || self.target_ms.is_some_and(|t| dts_ms - info.start_ms >= t)
            }
        };
        let restarted = std::mem::take(&mut self.restart);
        let before = self.muxer.stats().frames;
        self.scratch.clear();
        self.muxer.push(event, &mut self.scratch);
        if self.muxer.stats().frames == before {
            return;
        }
        if due {
            self.close(if restarted { None } else { Some(dts_ms) }, out);
            let index = self.next_index;
            self.next_index += 1;
            out.push(SegmentEvent::Open {
                index,
                discontinuity: restarted,
            });
            let info = SegmentInfo {
                index,
                start_ms: dts_ms,
                end_ms: dts_ms,
                bytes: 0,
                frames: 0,
                discontinuity: restarted,
            };
            self.open = Some((info, dts_ms));
        }
        if let Some((info, last)) = self.open.as_mut() {
            info.bytes += self.scratch.len() as u64;
            info.frames += 1;
            *last = dts_ms.max(*last);
        }
        out.push(SegmentEvent::Data(std::mem::take(&mut self.scratch).into()));
    }

    /// `codec` cannot be written as ADTS: said once.
    fn refuse(&mut self, codec: &str, out: &mut Vec<SegmentEvent>) {
        if !std::mem::replace(&mut self.refused, true) {
            let why = format!("{codec} audio cannot be recorded as .aac without re-encoding");
            out.push(SegmentEvent::Refused(Track::Audio, why));
        }
    }

    fn close(&mut self, next_ms: Option<i64>, out: &mut Vec<SegmentEvent>) {
        if let Some((info, last_ms)) = self.open.take() {
            let rate = i64::from(self.muxer.config().map_or(48_000, |c| c.sample_rate.max(1)));
            let end_ms = next_ms
                .unwrap_or(last_ms + 1024 * 1000 / rate)
                .max(info.start_ms);
            out.push(SegmentEvent::Close(SegmentInfo { end_ms, ..info }));
        }
    }
}

impl Segmenter for AacSegmenter {
    fn push(&mut self, event: &FrameEvent, out: &mut Vec<SegmentEvent>) {
        match event {
            FrameEvent::AudioConfig { changed: true, .. }
            | FrameEvent::Discontinuity {
                track: Track::Audio,
                ..
            } => {
                self.restart = self.open.is_some();
                self.scratch.clear();
                self.muxer.push(event, &mut self.scratch);
            }
            FrameEvent::OpusConfig { .. } | FrameEvent::EntryConfig { .. } => {
                self.close(None, out);
                self.muxer.push(event, &mut self.scratch);
                let label = match event {
                    FrameEvent::EntryConfig { config, .. } => config.label(),
                    _ => "Opus",
                };
                self.refuse(label, out);
            }
            FrameEvent::Frame(frame) if frame.track == Track::Audio => {
                if self.muxer.config().is_none() && parse_mp3_frame(&frame.data).is_some() {
                    self.refuse("MP3", out);
                }
                self.frame(event, frame.dts_ms, out)
            }
            _ => {
                self.scratch.clear();
                self.muxer.push(event, &mut self.scratch);
            }
        }
    }

    fn finish(&mut self, out: &mut Vec<SegmentEvent>) {
        self.close(None, out);
    }

    fn dropped(&self) -> u64 {
        self.muxer.stats().dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::codec::aac::parse_audio_specific_config;
    use crate::formats::flv::frames::MediaFrame;

    #[test]
    fn files_cut_at_the_interval_and_on_jumps() {
        let mut s = AacSegmenter::new(Some(1000));
        let mut out = Vec::new();
        s.push(
            &FrameEvent::AudioConfig {
                config: parse_audio_specific_config(&[0x11, 0x90]).unwrap(),
                changed: false,
            },
            &mut out,
        );
        let frame = |dts| {
            FrameEvent::Frame(MediaFrame {
                track: Track::Audio,
                dts_ms: dts,
                pts_ms: dts,
                keyframe: true,
                data: vec![1; 10].into(),
                offset: 0,
            })
        };
        for i in 0..100 {
            s.push(&frame(i * 21), &mut out);
        }
        s.push(
            &FrameEvent::Discontinuity {
                track: Track::Audio,
                from_ms: 2079,
                to_ms: 90_000,
            },
            &mut out,
        );
        s.push(&frame(90_000), &mut out);
        s.finish(&mut out);
        let closes: Vec<(i64, i64, bool)> = out
            .iter()
            .filter_map(|e| {
                if let SegmentEvent::Close(i) = e {
                    Some((i.start_ms, i.end_ms, i.discontinuity))
                } else {
                    None
                }
            })
            .collect();
        assert_eq!(
            closes,
            [
                (0, 1008, false),
                (1008, 2016, false),
                (2016, 2100, false),
                (90_000, 90_021, true)
            ]
        );
    }
}
