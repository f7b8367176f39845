//! The MPEG-TS segmenter: frame events in, [`SegmentEvent`]s out.
//!
//! One file (no target) or segments of a target duration, each cut at the first video
//! keyframe at or after the boundary (audio-only: at any frame), measured on stream time.
//! Every segment starts with PAT/PMT and, for video, a keyframe with its parameter sets,
//! so it decodes alone. A codec configuration change or a timestamp jump closes the
//! segment and opens the next as a discontinuity. Frames that arrive before their codec
//! configuration are dropped and counted.

use super::{SegmentEvent, SegmentInfo, Segmenter};
use crate::formats::codec::aac::AacConfig;
use crate::formats::flv::frames::{FrameEvent, MediaFrame, Track, VideoConfig};
use crate::formats::mpegts::{annex_b_pieces, TsMuxer, TsTracks};

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
    /// Codecs refused so far (each reported once).
    refused: Vec<&'static str>,
}

impl TsSegmenter {
    /// One file (`None`) or segments of `target_ms`.
    pub fn new(target_ms: Option<i64>) -> Self {
        Self {
            target_ms,
            ..Self::default()
        }
    }

    /// `codec` cannot go into MPEG-TS segments: reported once; its track is left out.
    fn refuse<T>(
        &mut self,
        track: Track,
        codec: &'static str,
        out: &mut Vec<SegmentEvent>,
    ) -> Option<T> {
        if !self.refused.contains(&codec) {
            self.refused.push(codec);
            out.push(SegmentEvent::Refused(
                track,
                format!("{codec} cannot be recorded in MPEG-TS segments without re-encoding"),
            ));
        }
        None
    }

    /// The video configuration in effect (for reports).
    pub fn video_config(&self) -> Option<&VideoConfig> {
        self.video.as_ref()
    }

    fn push_event(&mut self, event: &FrameEvent, out: &mut Vec<SegmentEvent>) {
        match event {
            FrameEvent::VideoConfig { config, changed } => {
                self.pending_discontinuity |= *changed && self.open.is_some();
                self.video = match config {
                    VideoConfig::Av1(_) => self.refuse(Track::Video, "AV1", out),
                    VideoConfig::Vp9(_) => self.refuse(Track::Video, "VP9", out),
                    _ => Some(config.clone()),
                };
            }
            FrameEvent::OpusConfig { changed, .. } => {
                self.pending_discontinuity |= *changed && self.open.is_some();
                self.audio = self.refuse(Track::Audio, "Opus", out);
            }
            FrameEvent::EntryConfig { changed, config } => {
                self.pending_discontinuity |= *changed && self.open.is_some();
                self.audio = self.refuse(Track::Audio, config.label(), out);
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

    /// The frame as elementary stream pieces (Annex B video, ADTS header and AAC frame,
    /// or the MP3 frame) in `out`, borrowed from the frame, `video` (parameter sets) and
    /// `adts`; false when it cannot be.
    fn payload<'a>(
        &self,
        frame: &'a MediaFrame,
        video: Option<&'a VideoConfig>,
        adts: &'a mut [u8; 7],
        out: &mut Vec<&'a [u8]>,
    ) -> bool {
        match frame.track {
            Track::Video => {
                video.is_some_and(|config| annex_b_pieces(config, &frame.data, frame.keyframe, out))
            }
            Track::Audio if self.mp3 => {
                out.push(&frame.data);
                true
            }
            Track::Audio => {
                let Some(header) = self
                    .audio
                    .as_ref()
                    .and_then(|c| c.adts_header(frame.data.len()))
                else {
                    return false;
                };
                *adts = header;
                out.extend_from_slice(&[adts.as_slice(), &frame.data]);
                true
            }
        }
    }

    /// The program the configurations seen so far call for.
    fn wanted_tracks(&self) -> TsTracks {
        TsTracks {
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
        }
    }

    fn frame(&mut self, frame: &MediaFrame, out: &mut Vec<SegmentEvent>) {
        if frame.track == Track::Audio && self.audio.is_none() && !self.mp3 {
            self.mp3 = frame.data.first() == Some(&0xFF)
                && frame.data.get(1).is_some_and(|b| b & 0xE0 == 0xE0);
        }
        let wanted = self.wanted_tracks();
        if self.tracks.is_some_and(|t| t != wanted) {
            // A stream appeared or changed codec: a new program from the next boundary.
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
        let tracks = if opening {
            wanted
        } else {
            self.tracks.unwrap_or(wanted)
        };
        let carried = match frame.track {
            Track::Video => tracks.video.is_some(),
            Track::Audio => tracks.audio.is_some(),
        };
        // Every file starts decodable: with video, at a keyframe (audio before it waits out).
        if !carried || (opening && !boundary) {
            self.dropped += 1;
            return;
        }
        // The pieces borrow the video configuration (its parameter sets): it is set
        // aside while the frame is muxed (muxing does not read it).
        let video = self.video.take();
        let mut adts = [0; 7];
        let mut pieces = Vec::with_capacity(8);
        if self.payload(frame, video.as_ref(), &mut adts, &mut pieces) {
            self.mux_frame(frame, tracks, opening, &pieces, out);
        } else {
            self.dropped += 1;
        }
        self.video = video;
    }

    /// Writes `frame` (its elementary stream pieces `es`) into the open segment, first
    /// opening one when `opening`.
    fn mux_frame(
        &mut self,
        frame: &MediaFrame,
        tracks: TsTracks,
        opening: bool,
        es: &[&[u8]],
        out: &mut Vec<SegmentEvent>,
    ) {
        if opening {
            self.cut(frame, tracks, out);
        }
        let mux = self.mux.get_or_insert_with(|| TsMuxer::new(tracks));
        // Packets: 188 bytes per 184 of PES (its header and the first packet's adaptation
        // field included), plus a PCR-only packet and the tables.
        let pes_bytes = es.iter().map(|p| p.len()).sum::<usize>() + 19 + 8;
        self.scratch = Vec::with_capacity((pes_bytes.div_ceil(184) + 3) * 188);
        if self.open.as_ref().is_some_and(|o| o.info.frames == 0) {
            mux.set_tracks(tracks);
            mux.write_tables(&mut self.scratch);
        }
        mux.write_frame(frame, es, &mut self.scratch);
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
        out.push(SegmentEvent::Data(std::mem::take(&mut self.scratch).into()));
    }

    fn cut(&mut self, frame: &MediaFrame, tracks: TsTracks, out: &mut Vec<SegmentEvent>) {
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
        self.tracks = Some(tracks);
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
            let info = open
                .info
                .closed(open.last_dts, open.frame_step_ms, next_start_ms);
            out.push(SegmentEvent::Close(info));
        }
    }
}

impl Segmenter for TsSegmenter {
    fn push(&mut self, event: &FrameEvent, out: &mut Vec<SegmentEvent>) {
        self.push_event(event, out);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::codec::aac::parse_audio_specific_config;
    use crate::record::Segmenter;

    use crate::formats::mp4::test_support::avc;

    fn video(dts: i64, key: bool) -> FrameEvent {
        FrameEvent::Frame(MediaFrame {
            track: Track::Video,
            dts_ms: dts,
            pts_ms: dts,
            keyframe: key,
            data: vec![0, 0, 0, 2, 0x65, 0x88].into(),
            offset: 0,
        })
    }

    fn audio(dts: i64) -> FrameEvent {
        FrameEvent::Frame(MediaFrame {
            track: Track::Audio,
            dts_ms: dts,
            pts_ms: dts,
            keyframe: true,
            data: vec![0x21; 20].into(),
            offset: 0,
        })
    }

    fn run(target: Option<i64>, events: &[FrameEvent]) -> (Vec<SegmentEvent>, Vec<u8>, u64) {
        let mut s = TsSegmenter::new(target);
        let mut out = Vec::new();
        for e in events {
            s.push(e, &mut out);
        }
        s.finish(&mut out);
        let bytes: Vec<u8> = out
            .iter()
            .filter_map(|e| {
                if let SegmentEvent::Data(d) = e {
                    Some(d.clone())
                } else {
                    None
                }
            })
            .flatten()
            .collect();
        (out, bytes, s.dropped())
    }

    fn closes(events: &[SegmentEvent]) -> Vec<SegmentInfo> {
        events
            .iter()
            .filter_map(|e| {
                if let SegmentEvent::Close(i) = e {
                    Some(i.clone())
                } else {
                    None
                }
            })
            .collect()
    }

    #[test]
    fn a_stream_joined_mid_gop_starts_at_its_first_keyframe() {
        let mut events = vec![FrameEvent::VideoConfig {
            config: avc(),
            changed: false,
        }];
        events.push(FrameEvent::AudioConfig {
            config: parse_audio_specific_config(&[0x11, 0x90]).unwrap(),
            changed: false,
        });
        events.extend([
            audio(0),
            video(0, false),
            video(40, false),
            video(1000, true),
            audio(1000),
            video(1040, false),
        ]);
        let (out, bytes, dropped) = run(None, &events);
        assert_eq!(dropped, 3);
        let segments = closes(&out);
        assert_eq!(
            (segments.len(), segments[0].start_ms, segments[0].frames),
            (1, 1000, 3)
        );
        assert_eq!(bytes.len() % 188, 0);
        assert!(bytes.chunks(188).all(|p| p[0] == 0x47));
    }

    #[test]
    fn late_audio_starts_a_new_program_at_the_next_keyframe() {
        let mut events = vec![
            FrameEvent::VideoConfig {
                config: avc(),
                changed: false,
            },
            video(0, true),
            video(40, false),
        ];
        events.push(FrameEvent::AudioConfig {
            config: parse_audio_specific_config(&[0x11, 0x90]).unwrap(),
            changed: false,
        });
        events.extend([audio(60), video(80, false), video(1000, true), audio(1000)]);
        let (out, bytes, dropped) = run(None, &events);
        assert_eq!(dropped, 1, "audio before the program carries it");
        let segments = closes(&out);
        let flags: Vec<(i64, bool, u64)> = segments
            .iter()
            .map(|s| (s.start_ms, s.discontinuity, s.frames))
            .collect();
        assert_eq!(flags, [(0, false, 3), (1000, true, 2)]);
        assert_eq!(bytes.len() % 188, 0);
        // The second PMT (version 1) lists two streams.
        let pmts: Vec<&[u8]> = bytes
            .chunks(188)
            .filter(|p| p[1] & 0x1F == 0x10 && p[2] == 0x00)
            .collect();
        assert_eq!(pmts.len(), 2);
        assert_eq!((pmts[0][10] >> 1) & 0x1F, 0);
        assert_eq!((pmts[1][10] >> 1) & 0x1F, 1);
    }

    #[test]
    fn segments_cut_at_keyframes_after_the_target() {
        let mut events = vec![FrameEvent::VideoConfig {
            config: avc(),
            changed: false,
        }];
        for i in 0..100 {
            events.push(video(i * 40, i % 25 == 0));
        }
        let (out, _, _) = run(Some(2000), &events);
        let starts: Vec<(i64, i64)> = closes(&out)
            .iter()
            .map(|s| (s.start_ms, s.end_ms))
            .collect();
        assert_eq!(starts, [(0, 2000), (2000, 4000)]);
    }

    /// PCRs on the video PID (0x100) of a 5 fps stream with audio, in source ms.
    #[test]
    fn low_frame_rate_video_still_gets_a_pcr_every_100_ms() {
        let mut s = TsSegmenter::new(None);
        let mut out = Vec::new();
        s.push(
            &FrameEvent::VideoConfig {
                config: avc(),
                changed: false,
            },
            &mut out,
        );
        s.push(
            &FrameEvent::AudioConfig {
                config: parse_audio_specific_config(&[0x11, 0x90]).unwrap(),
                changed: false,
            },
            &mut out,
        );
        let frame = |track, dts: i64, key| {
            FrameEvent::Frame(MediaFrame {
                track,
                dts_ms: dts,
                pts_ms: dts,
                keyframe: key,
                data: if track == Track::Video {
                    vec![0, 0, 0, 2, 0x65, 0x88].into()
                } else {
                    vec![0x21; 30].into()
                },
                offset: 0,
            })
        };
        for i in 0..50i64 {
            if i % 10 == 0 {
                s.push(&frame(Track::Video, i * 21, i % 50 == 0), &mut out);
            }
            s.push(&frame(Track::Audio, i * 21, true), &mut out);
        }
        s.finish(&mut out);
        let bytes: Vec<u8> = out
            .iter()
            .filter_map(|e| {
                if let SegmentEvent::Data(d) = e {
                    Some(d.clone())
                } else {
                    None
                }
            })
            .flatten()
            .collect();
        let pcrs: Vec<i64> = bytes
            .chunks(188)
            .filter(|p| {
                p[1] & 0x1F == 0x01
                    && p[2] == 0x00
                    && p[3] & 0x20 != 0
                    && p[4] > 0
                    && p[5] & 0x10 != 0
            })
            .map(|p| {
                let base = (u64::from(p[6]) << 25)
                    | (u64::from(p[7]) << 17)
                    | (u64::from(p[8]) << 9)
                    | (u64::from(p[9]) << 1)
                    | u64::from(p[10] >> 7);
                base as i64 / 90
            })
            .collect();
        assert!(pcrs.len() > 10, "{pcrs:?}");
        assert!(
            pcrs.windows(2).all(|w| w[1] > w[0] && w[1] - w[0] <= 100),
            "{pcrs:?}"
        );
    }
}
