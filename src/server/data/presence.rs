//! What a live push shows of itself (`DescribeLiveStreamPushInfoList`, the console):
//! who pushes, since when, the codecs and picture size, and frame and bit rates over the
//! last few seconds.
//!
//! The push counts its default tracks' frames and payload bytes as they arrive (relaxed
//! atomic adds, nothing else on the frame path) and, at the end of each read tick, takes
//! a sample of the counters at most every [`SAMPLE_EVERY_MS`]; rates are measured over
//! the samples of the last [`RATE_WINDOW_MS`]. Readers never touch the push's state.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use super::stream::PushStream;
use crate::media::{CodecConfig, Config, Track};
use crate::record::session::MediaInfo;
use crate::server::streams::LivePush;

/// How often the counters are sampled, ms.
pub const SAMPLE_EVERY_MS: i64 = 1000;
/// The window rates are measured over, ms.
pub const RATE_WINDOW_MS: i64 = 5000;

/// The default tracks' frames and payload bytes so far.
#[derive(Debug, Clone, Copy, Default)]
struct Counts {
    video_frames: u64,
    video_bytes: u64,
    audio_frames: u64,
    audio_bytes: u64,
}

impl Counts {
    /// What was added since `earlier`.
    fn since(self, earlier: Counts) -> Counts {
        Counts {
            video_frames: self.video_frames.saturating_sub(earlier.video_frames),
            video_bytes: self.video_bytes.saturating_sub(earlier.video_bytes),
            audio_frames: self.audio_frames.saturating_sub(earlier.audio_frames),
            audio_bytes: self.audio_bytes.saturating_sub(earlier.audio_bytes),
        }
    }
}

/// [`Counts`] as the push adds to them.
#[derive(Debug, Default)]
struct Counters {
    video_frames: AtomicU64,
    video_bytes: AtomicU64,
    audio_frames: AtomicU64,
    audio_bytes: AtomicU64,
}

/// Counters at one moment.
#[derive(Debug, Clone, Copy, Default)]
struct Sample {
    at_ms: i64,
    counts: Counts,
}

#[derive(Debug, Default)]
struct Described {
    media: MediaInfo,
    sample_rate: u32,
    recording: Vec<String>,
    samples: VecDeque<Sample>,
}

/// See the module doc.
#[derive(Debug)]
pub struct PushInfo {
    stream: PushStream,
    protocol: &'static str,
    client: SocketAddr,
    server: SocketAddr,
    begin_ms: i64,
    counters: Counters,
    described: Mutex<Described>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl PushInfo {
    /// A push of `stream` by `protocol` from `client` to `server`, beginning at `begin_ms`.
    pub fn new(
        stream: PushStream,
        protocol: &'static str,
        (client, server): (SocketAddr, SocketAddr),
        begin_ms: i64,
    ) -> PushInfo {
        PushInfo {
            stream,
            protocol,
            client,
            server,
            begin_ms,
            counters: Counters::default(),
            described: Mutex::default(),
        }
    }

    /// The stream pushed.
    pub fn stream(&self) -> &PushStream {
        &self.stream
    }

    /// Counts a default-track frame of `bytes` payload bytes.
    pub fn count(&self, track: Track, bytes: usize) {
        let c = &self.counters;
        let (frames, total) = match track {
            Track::Video => (&c.video_frames, &c.video_bytes),
            Track::Audio => (&c.audio_frames, &c.audio_bytes),
        };
        frames.fetch_add(1, Ordering::Relaxed);
        total.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    /// Notes a configuration's sample rate (audio).
    pub fn observe_config(&self, config: &Config) {
        let rate = match &config.codec {
            CodecConfig::Audio(aac) => aac.sample_rate,
            CodecConfig::Opus(_) => 48_000,
            _ => return,
        };
        lock(&self.described).sample_rate = rate;
    }

    /// The end of a read tick at `now_ms`: what the push's session knows of its media
    /// and the formats it records, and a sample of the counters when the last one is [`SAMPLE_EVERY_MS`] old.
    pub fn tick(&self, now_ms: i64, media: impl FnOnce() -> (MediaInfo, Vec<String>)) {
        let mut d = lock(&self.described);
        if d.samples
            .back()
            .is_some_and(|s| now_ms - s.at_ms < SAMPLE_EVERY_MS)
        {
            return;
        }
        (d.media, d.recording) = media();
        let sample = Sample {
            at_ms: now_ms,
            counts: self.counts(),
        };
        d.samples.push_back(sample);
        while d
            .samples
            .front()
            .is_some_and(|s| now_ms - s.at_ms > RATE_WINDOW_MS)
        {
            d.samples.pop_front();
        }
    }

    fn counts(&self) -> Counts {
        let c = &self.counters;
        Counts {
            video_frames: c.video_frames.load(Ordering::Relaxed),
            video_bytes: c.video_bytes.load(Ordering::Relaxed),
            audio_frames: c.audio_frames.load(Ordering::Relaxed),
            audio_bytes: c.audio_bytes.load(Ordering::Relaxed),
        }
    }

    /// What it shows at `now_ms`.
    pub fn snapshot(&self, now_ms: i64) -> LivePush {
        let d = lock(&self.described);
        let now = self.counts();
        let (span_ms, delta) = match d.samples.front() {
            Some(first) if now_ms > first.at_ms => (now_ms - first.at_ms, now.since(first.counts)),
            _ => (0, Counts::default()),
        };
        let per_s = |n: u64| {
            if span_ms == 0 {
                0.0
            } else {
                n as f64 * 1000.0 / span_ms as f64
            }
        };
        LivePush {
            domain: self.stream.domain.clone(),
            app: self.stream.app.clone(),
            stream: self.stream.stream.clone(),
            protocol: self.protocol,
            client: self.client,
            server: self.server,
            begin_ms: self.begin_ms,
            video_codec: d.media.video_codec.clone(),
            audio_codec: d.media.audio_codec.clone(),
            dimensions: d.media.dimensions,
            sample_rate: d.sample_rate,
            video_fps: per_s(delta.video_frames),
            video_bps: (per_s(delta.video_bytes) * 8.0) as u64,
            audio_fps: per_s(delta.audio_frames),
            audio_bps: (per_s(delta.audio_bytes) * 8.0) as u64,
            recording: d.recording.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info() -> PushInfo {
        let stream = PushStream {
            domain: "d".into(),
            app: "live".into(),
            stream: "s".into(),
            stream_param: String::new(),
            mix: Default::default(),
        };
        let addr: SocketAddr = "127.0.0.1:1935".parse().unwrap();
        PushInfo::new(stream, "rtmp", (addr, addr), 0)
    }

    #[test]
    fn rates_are_measured_over_the_last_seconds() {
        let info = info();
        let media = || {
            let media = MediaInfo {
                video_codec: Some("h264".into()),
                audio_codec: None,
                dimensions: Some((1280, 720)),
            };
            (media, vec!["flv".to_owned()])
        };
        // 30 video frames of 1000 bytes and 50 audio frames of 100 bytes a second.
        for second in 0..10_i64 {
            for tick in 0..5 {
                info.tick(second * 1000 + tick * 200, media);
                for _ in 0..6 {
                    info.count(Track::Video, 1000);
                }
                for _ in 0..10 {
                    info.count(Track::Audio, 100);
                }
            }
        }
        let p = info.snapshot(10_000);
        assert!((p.video_fps - 30.0).abs() < 0.01, "{}", p.video_fps);
        assert!((p.audio_fps - 50.0).abs() < 0.01, "{}", p.audio_fps);
        assert_eq!(p.video_bps, 240_000);
        assert_eq!(p.audio_bps, 40_000);
        assert_eq!(p.dimensions, Some((1280, 720)));
        assert_eq!(p.key(), "d/live/s");
        assert_eq!(p.recording, ["flv"]);
    }

    #[test]
    fn a_push_that_stalls_shows_falling_rates() {
        let info = info();
        info.tick(0, Default::default);
        for _ in 0..100 {
            info.count(Track::Video, 10);
        }
        info.tick(1000, Default::default);
        for at in (2000..=8000).step_by(1000) {
            info.tick(at, Default::default);
        }
        assert_eq!(info.snapshot(8000).video_fps, 0.0);
        assert_eq!(info.snapshot(0).video_fps, 0.0);
    }
}
