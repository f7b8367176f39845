//! Interleaving by decode time, for protocols whose tracks arrive skewed — pure.
//!
//! RTMP sends each track's configuration first and its frames in decode order; an
//! MPEG-TS stream (SRT) does not: a muxer writes audio in PES packets holding several
//! frames, often half a second behind the video, and the audio configuration is only
//! known with the first ADTS frame. A recorder that starts a file at the first
//! keyframe would then start it without audio. [`Interleaver`] holds the frames of the
//! tracks the stream announced until every one of them has a frame waiting, and
//! releases them in decode-time order; a track that stays silent holds the others back
//! at most [`MAX_INTERLEAVE_MS`] of media (or [`MAX_HELD_FRAMES`] frames). A
//! configuration is released at once when nothing of its track is waiting (so the
//! first audio configuration reaches the push before the video frames held for it),
//! else in its place.

use std::collections::VecDeque;

use super::{Input, Track};

/// The most media time one track is held back waiting for another, ms.
pub const MAX_INTERLEAVE_MS: i64 = 1000;
/// The most frames held in all (bounds memory whatever the timestamps say).
pub const MAX_HELD_FRAMES: usize = 2048;

/// See the module doc.
#[derive(Debug, Default)]
pub struct Interleaver {
    video: VecDeque<Input>,
    audio: VecDeque<Input>,
}

fn dts(input: &Input) -> Option<i64> {
    match input {
        Input::Frame(f) => Some(f.dts_ms),
        _ => None,
    }
}

/// The decode time of the first frame in `queue`.
fn head_dts(queue: &VecDeque<Input>) -> Option<i64> {
    queue.iter().find_map(dts)
}

/// The decode time span of the frames in `queue`.
fn span(queue: &VecDeque<Input>) -> i64 {
    let last = queue.iter().rev().find_map(dts);
    match (head_dts(queue), last) {
        (Some(first), Some(last)) => last.saturating_sub(first),
        _ => 0,
    }
}

impl Interleaver {
    /// An empty interleaver.
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes one input; appends what may go on to `out`. `expected` says which tracks
    /// the stream announced (an MPEG-TS PMT): only those are waited for.
    pub fn push(&mut self, input: Input, expected: Expected, out: &mut Vec<Input>) {
        let track = match &input {
            Input::Frame(f) => f.track,
            Input::Config(c) => c.codec.track(),
            _ => return out.push(input),
        };
        let queue = self.queue(track);
        if matches!(input, Input::Config(_)) && queue.is_empty() {
            return out.push(input);
        }
        queue.push_back(input);
        self.release(expected, out);
    }

    /// The end of the stream: everything held, in order.
    pub fn finish(&mut self, out: &mut Vec<Input>) {
        self.release(
            Expected {
                video: false,
                audio: false,
            },
            out,
        );
        out.extend(self.video.drain(..));
        out.extend(self.audio.drain(..));
    }

    fn queue(&mut self, track: Track) -> &mut VecDeque<Input> {
        match track {
            Track::Video => &mut self.video,
            Track::Audio => &mut self.audio,
        }
    }

    fn release(&mut self, expected: Expected, out: &mut Vec<Input>) {
        loop {
            let (v, a) = (head_dts(&self.video), head_dts(&self.audio));
            let take = match (v, a) {
                (Some(v), Some(a)) => Some(if a < v { Track::Audio } else { Track::Video }),
                (Some(_), None) if !expected.audio || self.overdue(Track::Video) => {
                    Some(Track::Video)
                }
                (None, Some(_)) if !expected.video || self.overdue(Track::Audio) => {
                    Some(Track::Audio)
                }
                _ => None,
            };
            let Some(track) = take else { return };
            let queue = self.queue(track);
            // The frame and the configurations queued before it.
            while let Some(input) = queue.pop_front() {
                let frame = matches!(input, Input::Frame(_));
                out.push(input);
                if frame {
                    break;
                }
            }
        }
    }

    /// Whether `track` has waited long enough for the other.
    fn overdue(&mut self, track: Track) -> bool {
        let held = self.video.len() + self.audio.len();
        held > MAX_HELD_FRAMES || span(self.queue(track)) > MAX_INTERLEAVE_MS
    }
}

/// The tracks a stream announced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expected {
    /// A video track.
    pub video: bool,
    /// An audio track.
    pub audio: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::{Codec, Frame};
    use bytes::Bytes;

    fn frame(track: Track, dts_ms: i64) -> Input {
        Input::Frame(Frame {
            track_id: 0,
            track,
            codec: if track == Track::Video {
                Codec::H264
            } else {
                Codec::Aac
            },
            dts_ms,
            pts_ms: dts_ms,
            keyframe: true,
            payload: Bytes::new(),
            config: None,
            flv: None,
        })
    }

    fn order(out: &[Input]) -> Vec<(char, i64)> {
        out.iter()
            .filter_map(|i| match i {
                Input::Frame(f) => {
                    Some((if f.track == Track::Video { 'v' } else { 'a' }, f.dts_ms))
                }
                _ => None,
            })
            .collect()
    }

    const BOTH: Expected = Expected {
        video: true,
        audio: true,
    };

    #[test]
    fn late_audio_is_interleaved_by_decode_time() {
        let mut i = Interleaver::new();
        let mut out = Vec::new();
        for t in [0, 40, 80, 120] {
            i.push(frame(Track::Video, t), BOTH, &mut out);
        }
        assert!(out.is_empty(), "video held for the announced audio");
        for t in [10, 33, 56, 79, 102] {
            i.push(frame(Track::Audio, t), BOTH, &mut out);
        }
        assert_eq!(
            order(&out),
            [
                ('v', 0),
                ('a', 10),
                ('a', 33),
                ('v', 40),
                ('a', 56),
                ('a', 79),
                ('v', 80),
                ('a', 102)
            ]
        );
        i.finish(&mut out);
        assert_eq!(order(&out).last(), Some(&('v', 120)));
    }

    #[test]
    fn a_silent_track_holds_the_other_back_one_second_at_most() {
        let mut i = Interleaver::new();
        let mut out = Vec::new();
        for t in (0..=1080).step_by(40) {
            i.push(frame(Track::Video, t), BOTH, &mut out);
        }
        // Held while within a second of the newest.
        assert_eq!(order(&out), [('v', 0), ('v', 40)]);
        // Not announced: not waited for.
        let mut i = Interleaver::new();
        let mut out = Vec::new();
        let video_only = Expected {
            video: true,
            audio: false,
        };
        i.push(frame(Track::Video, 0), video_only, &mut out);
        assert_eq!(order(&out), [('v', 0)]);
    }
}
