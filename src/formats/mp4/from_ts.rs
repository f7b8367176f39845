//! A moov-first MP4 clip cut from HLS MPEG-TS segments without re-encoding, one segment
//! at a time — what the console's "stitch and clip" export runs in the browser.
//!
//! The caller fetches the clip's segments in order and hands each one to
//! [`TsClip::push_segment`] (or streams it in: [`TsClip::begin_segment`], any number of
//! [`TsClip::write`]s, [`TsClip::end_segment`]): the segment is demuxed ([`TsDemuxer`]), its samples'
//! bytes (length-prefixed NAL units, raw AAC frames) come back as that segment's
//! *sample file*, and only the sample references stay here (≈ 32 bytes a sample). At
//! the end [`TsClip::finish`] lays the references out with [`stitch`]: the result is a
//! small head (`ftyp` + `moov` + `mdat` header) and a list of extents of the sample
//! files (the pieces kept where the playlist puts them, [`Join::Keep`]), which the
//! caller concatenates (a browser: `new Blob([head, ...slices])`), so no step holds
//! more than one segment.
//!
//! Timeline: milliseconds of the (spliced) playlist, as a player shows them. A recording
//! — a run of segments without a discontinuity — starts with [`TsClip::begin_recording`];
//! its first segment pushed is placed at the playlist time given with it, and the rest
//! keep the transport stream's own time relative to that (so EXTINF rounding does not
//! accumulate) — unless a segment's first frame lands over [`MAX_DRIFT_MS`] from its
//! playlist time: then its timestamps restarted without a discontinuity tag, and a new
//! recording begins there. Between recordings [`stitch`] closes the gap, and its edit list
//! makes the file start and end at the requested instants exactly; video begins at the
//! last keyframe before the start.
//!
//! One configuration per track: recordings whose SPS/PPS or AudioSpecificConfig differ
//! cannot share a `trak` without re-encoding, and are refused ([`TsClipError::ConfigChanged`]).

use crate::formats::codec::aac::AacConfig;
use crate::formats::mpegts::TsDemuxer;
use crate::media::{Codec, CodecConfig, Input, Track, VideoConfig};

use super::stitch::{stitch_joined, Join, Piece, SampleRef, Stitched};
use super::{Mp4Error, Mp4Tracks};

/// Largest segment accepted (a 10 s 4K segment at 50 Mbit/s is ~62 MB).
pub const MAX_SEGMENT_BYTES: usize = 128 * 1024 * 1024;
/// Most samples in a clip (≈ 6 hours of 30 fps video with 48 kHz AAC): bounds the
/// references held, ≈ 32 bytes each.
pub const MAX_CLIP_SAMPLES: usize = 2_000_000;
/// Most segments in a clip.
pub const MAX_CLIP_SEGMENTS: usize = 20_000;
/// Demuxer notes kept (skipped streams, garbage).
const MAX_NOTES: usize = 16;
/// A segment whose first frame is further than this from where the recording's clock
/// puts it starts a new recording (timestamps that restart without a discontinuity
/// tag), ms.
pub const MAX_DRIFT_MS: i64 = 2_000;

/// Why a clip cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TsClipError {
    /// A recording's codec configuration differs from the first one's.
    #[error("the {0} configuration changes between the recordings (a different encoder setting): export them one at a time")]
    ConfigChanged(&'static str),
    /// Over a bound.
    #[error("{0}")]
    TooLarge(String),
    /// Nothing to write.
    #[error("the clip holds no H.264/H.265 video or AAC audio between its in and out points")]
    Empty,
    /// Out of order use.
    #[error("{0}")]
    Misuse(&'static str),
    /// The MP4 could not be laid out.
    #[error("{0}")]
    Mp4(#[from] Mp4Error),
}

impl TsClipError {
    /// A short code for callers that branch on it.
    pub fn code(&self) -> &'static str {
        match self {
            TsClipError::ConfigChanged(_) => "ClipConfigChanged",
            TsClipError::TooLarge(_) => "ClipTooLarge",
            TsClipError::Empty => "ClipEmpty",
            TsClipError::Misuse(_) => "ClipMisuse",
            TsClipError::Mp4(_) => "ClipInvalid",
        }
    }
}

/// A clip being built: see the module doc.
#[derive(Debug, Default)]
pub struct TsClip {
    demuxer: TsDemuxer,
    pieces: Vec<Piece>,
    /// Playlist time of the segment being pushed, ms.
    segment_start_ms: i64,
    /// Playlist time minus transport-stream time in the current recording, ms (set by
    /// its first frame).
    shift_ms: Option<i64>,
    /// The next frame is the first of its segment.
    segment_first: bool,
    video: Option<VideoConfig>,
    audio: Option<AacConfig>,
    segments: usize,
    samples: usize,
    notes: Vec<String>,
    inputs: Vec<Input>,
    /// The sample file of the segment being pushed.
    file: Vec<u8>,
    /// Bytes of it written so far.
    segment_bytes: usize,
    /// Between `begin_segment` and `end_segment`.
    in_segment: bool,
    finished: bool,
}

impl TsClip {
    /// An empty clip.
    pub fn new() -> Self {
        Self::default()
    }

    /// A recording begins: the segments pushed next follow a discontinuity (the first
    /// segment pushed begins one anyway). Not while a segment is open.
    pub fn begin_recording(&mut self) -> Result<(), TsClipError> {
        if self.in_segment {
            return Err(TsClipError::Misuse("beginRecording before endSegment"));
        }
        self.demuxer = TsDemuxer::new();
        self.shift_ms = None;
        self.pieces.push(Piece::default());
        Ok(())
    }

    /// Segments pushed so far.
    pub fn segments(&self) -> usize {
        self.segments
    }

    /// What the demuxer skipped (unsupported streams, garbage), first ones only.
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// Demuxes the next segment of the current recording, which starts at `start_ms` of
    /// the playlist's time (segments of a recording may be left out, not reordered);
    /// returns its sample file (the bytes [`Stitched::extents`] point into, as source
    /// number [`Self::segments`] − 1). The same as [`Self::begin_segment`], one
    /// [`Self::write`] and [`Self::end_segment`].
    pub fn push_segment(&mut self, ts: &[u8], start_ms: i64) -> Result<Vec<u8>, TsClipError> {
        self.begin_segment(start_ms)?;
        self.write(ts)?;
        self.end_segment().map(<[u8]>::to_vec)
    }

    /// Starts the next segment of the current recording (see [`Self::push_segment`]);
    /// its bytes follow in [`Self::write`]s of any size, so the caller never holds a
    /// whole segment.
    pub fn begin_segment(&mut self, start_ms: i64) -> Result<(), TsClipError> {
        if self.finished {
            return Err(TsClipError::Misuse("beginSegment after finish"));
        }
        if self.in_segment {
            return Err(TsClipError::Misuse("beginSegment before endSegment"));
        }
        if self.segments >= MAX_CLIP_SEGMENTS {
            return Err(TsClipError::TooLarge(format!(
                "a clip holds at most {MAX_CLIP_SEGMENTS} segments"
            )));
        }
        if self.pieces.is_empty() {
            self.begin_recording()?;
        }
        self.segment_start_ms = start_ms;
        self.segment_first = true;
        self.segment_bytes = 0;
        self.file.clear();
        self.in_segment = true;
        Ok(())
    }

    /// The next bytes of the segment begun last.
    pub fn write(&mut self, ts: &[u8]) -> Result<(), TsClipError> {
        if !self.in_segment {
            return Err(TsClipError::Misuse(
                "write outside beginSegment … endSegment",
            ));
        }
        self.segment_bytes = self.segment_bytes.saturating_add(ts.len());
        if self.segment_bytes > MAX_SEGMENT_BYTES {
            return Err(TsClipError::TooLarge(format!(
                "a segment of over {MAX_SEGMENT_BYTES} bytes is over the limit"
            )));
        }
        let mut inputs = std::mem::take(&mut self.inputs);
        self.demuxer.push(ts, &mut inputs);
        let result = self.take_all(&mut inputs);
        self.inputs = inputs;
        result
    }

    /// Ends the segment begun last; returns its sample file (see [`Self::push_segment`]),
    /// valid until the next segment begins.
    pub fn end_segment(&mut self) -> Result<&[u8], TsClipError> {
        if !self.in_segment {
            return Err(TsClipError::Misuse("endSegment without beginSegment"));
        }
        let mut inputs = std::mem::take(&mut self.inputs);
        // HLS segments start with a new PES on every stream: the last one ends here.
        self.demuxer.finish(&mut inputs);
        let result = self.take_all(&mut inputs);
        self.inputs = inputs;
        result?;
        self.in_segment = false;
        self.segments += 1;
        Ok(&self.file)
    }

    fn take_all(&mut self, inputs: &mut Vec<Input>) -> Result<(), TsClipError> {
        let source = u32::try_from(self.segments).unwrap_or(u32::MAX);
        let mut file = std::mem::take(&mut self.file);
        let result = inputs
            .drain(..)
            .try_for_each(|input| self.take(input, source, &mut file));
        self.file = file;
        result
    }

    fn take(&mut self, input: Input, source: u32, file: &mut Vec<u8>) -> Result<(), TsClipError> {
        let frame = match input {
            Input::Frame(frame) => frame,
            Input::Config(config) => return self.configure(&config.codec),
            Input::Skipped(note) => {
                if self.notes.len() < MAX_NOTES && !self.notes.contains(&note) {
                    self.notes.push(note);
                }
                return Ok(());
            }
            Input::Nothing => return Ok(()),
        };
        if !matches!(frame.codec, Codec::H264 | Codec::H265 | Codec::Aac) || frame.track_id != 0 {
            return Ok(());
        }
        if let Some(config) = &frame.config {
            self.configure(&config.codec)?;
        }
        if self.samples >= MAX_CLIP_SAMPLES {
            return Err(TsClipError::TooLarge(format!(
                "a clip holds at most {MAX_CLIP_SAMPLES} samples"
            )));
        }
        if std::mem::take(&mut self.segment_first) {
            self.check_drift(frame.pts_ms);
        }
        let shift = *self
            .shift_ms
            .get_or_insert(self.segment_start_ms - frame.pts_ms);
        let sample = SampleRef {
            dts_ms: frame.dts_ms + shift,
            cts_ms: i32::try_from(frame.pts_ms - frame.dts_ms).unwrap_or(0),
            size: u32::try_from(frame.payload.len()).unwrap_or(u32::MAX),
            sync: frame.keyframe,
            source,
            offset: file.len() as u64,
        };
        file.extend_from_slice(&frame.payload);
        self.samples += 1;
        if let Some(piece) = self.pieces.last_mut() {
            match frame.track {
                Track::Video => piece.video.push(sample),
                Track::Audio => piece.audio.push(sample),
            }
        }
        Ok(())
    }

    /// A segment whose first frame is far from where the clock puts it begins a new
    /// recording: the stream's timestamps restarted without a discontinuity tag.
    fn check_drift(&mut self, pts_ms: i64) {
        if let Some(shift) = self.shift_ms {
            if (pts_ms + shift - self.segment_start_ms).abs() > MAX_DRIFT_MS {
                self.shift_ms = None;
                self.pieces.push(Piece::default());
            }
        }
    }

    fn configure(&mut self, codec: &CodecConfig) -> Result<(), TsClipError> {
        fn keep<T: PartialEq + Clone>(
            slot: &mut Option<T>,
            value: &T,
            what: &'static str,
        ) -> Result<(), TsClipError> {
            match slot {
                Some(known) if known != value => Err(TsClipError::ConfigChanged(what)),
                _ => {
                    *slot = Some(value.clone());
                    Ok(())
                }
            }
        }
        match codec {
            CodecConfig::Video(v) => keep(&mut self.video, v, "video"),
            CodecConfig::Audio(a) => keep(&mut self.audio, a, "audio"),
            _ => Ok(()),
        }
    }

    /// The MP4 of `[start_ms, end_ms)` of the playlist's time (see the module doc).
    pub fn finish(&mut self, start_ms: i64, end_ms: i64) -> Result<Stitched, TsClipError> {
        if end_ms <= start_ms {
            return Err(TsClipError::Misuse(
                "the out point must come after the in point",
            ));
        }
        if self.in_segment {
            return Err(TsClipError::Misuse("finish before endSegment"));
        }
        self.finished = true;
        let tracks = Mp4Tracks {
            video: self.video.clone(),
            audio: self.audio.clone(),
            opus: None,
            entry: None,
            extra: Vec::new(),
        };
        if tracks.video.is_none() && tracks.audio.is_none() {
            return Err(TsClipError::Empty);
        }
        trim_overlaps(&mut self.pieces);
        let joined = stitch_joined(&tracks, &self.pieces, (start_ms, end_ms), Join::Keep);
        joined.map_err(|e| match e {
            Mp4Error::NoTracks => TsClipError::Empty,
            other => TsClipError::Mp4(other),
        })
    }
}

/// Ends each recording where the next one begins on the playlist's timeline: its samples
/// presented (or decoded) from there on are left out — an audio tail that runs past the
/// video, or a recording longer than its EXTINFs say.
fn trim_overlaps(pieces: &mut [Piece]) {
    let starts: Vec<Option<i64>> = pieces
        .iter()
        .map(|p| {
            [p.video.first(), p.audio.first()]
                .into_iter()
                .flatten()
                .map(|s| s.dts_ms + i64::from(s.cts_ms))
                .min()
        })
        .collect();
    for (i, piece) in pieces.iter_mut().enumerate() {
        let next = starts
            .get(i + 1..)
            .and_then(|rest| rest.iter().flatten().next());
        let Some(&cut) = next else {
            continue;
        };
        let before = |s: &SampleRef| s.dts_ms < cut && s.dts_ms + i64::from(s.cts_ms) < cut;
        piece.video.retain(before);
        piece.audio.retain(before);
    }
}
