//! Writing new playlists: the shared emitter behind splice and clip, and
//! [`RecordingPlaylist`], the playlist the recording server grows segment by segment
//! (EVENT while recording, VOD + ENDLIST when final).
//!
//! New playlists are written as text and parsed back, so every playlist value — spliced,
//! clipped or recorded — is indexed by the one parser and writes out exactly as parsed.

use super::attributes::decode_attributes;
use super::datetime::encode_date_time;
use super::decimal::Micros;
use super::playlist::{LineKind, Playlist, PlaylistError, PlaylistType, Segment};
use super::tags::Tag;
use super::uri::resolve;

/// Header values of a written playlist.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeaderSpec {
    /// EXT-X-VERSION.
    pub version: u32,
    /// EXT-X-TARGETDURATION.
    pub target_duration: u64,
    /// EXT-X-MEDIA-SEQUENCE.
    pub media_sequence: u64,
    /// EXT-X-DISCONTINUITY-SEQUENCE (written when non-zero).
    pub discontinuity_sequence: u64,
    /// EXT-X-PLAYLIST-TYPE.
    pub playlist_type: Option<PlaylistType>,
    /// EXT-X-INDEPENDENT-SEGMENTS.
    pub independent_segments: bool,
    /// EXT-X-START TIME-OFFSET, PRECISE=YES.
    pub start_offset: Option<Micros>,
    /// Further header lines kept verbatim (unknown tags, comments).
    pub extra: Vec<String>,
}

impl HeaderSpec {
    /// Writes the header lines.
    pub fn write(&self, out: &mut String) {
        use std::fmt::Write;
        let _ = writeln!(out, "#EXTM3U");
        let _ = writeln!(out, "#EXT-X-VERSION:{}", self.version.max(1));
        let _ = writeln!(out, "#EXT-X-TARGETDURATION:{}", self.target_duration);
        let _ = writeln!(out, "#EXT-X-MEDIA-SEQUENCE:{}", self.media_sequence);
        if self.discontinuity_sequence > 0 {
            let _ = writeln!(
                out,
                "#EXT-X-DISCONTINUITY-SEQUENCE:{}",
                self.discontinuity_sequence
            );
        }
        match self.playlist_type {
            Some(PlaylistType::Vod) => out.push_str("#EXT-X-PLAYLIST-TYPE:VOD\n"),
            Some(PlaylistType::Event) => out.push_str("#EXT-X-PLAYLIST-TYPE:EVENT\n"),
            None => {}
        }
        if self.independent_segments {
            out.push_str("#EXT-X-INDEPENDENT-SEGMENTS\n");
        }
        if let Some(offset) = self.start_offset {
            let _ = writeln!(out, "#EXT-X-START:TIME-OFFSET={offset},PRECISE=YES");
        }
        for line in &self.extra {
            out.push_str(line);
            out.push('\n');
        }
    }
}

/// How one copied segment is to be introduced.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SegmentIntro {
    /// Write EXT-X-DISCONTINUITY before it.
    pub discontinuity: bool,
    /// Write this PROGRAM-DATE-TIME when the segment has none of its own.
    pub program_date_time_ms: Option<i64>,
}

/// Copies segments from source playlists into a new body, resolving URIs against each
/// source's base URL and re-emitting EXT-X-MAP / EXT-X-KEY whenever the one in effect
/// changes.
#[derive(Debug, Default)]
pub struct Emitter {
    body: String,
    map: Option<String>,
    key: Option<String>,
    max_rounded_s: i64,
    uses_map: bool,
    uses_byte_range: bool,
    segments: usize,
}

impl Emitter {
    /// An empty body.
    pub fn new() -> Self {
        Self::default()
    }

    /// Copies `segment` of `source`. Fails when the segment has no EXT-X-MAP but the
    /// output already has one in effect.
    pub fn copy_segment(
        &mut self,
        source: &Playlist,
        segment: &Segment,
        intro: SegmentIntro,
    ) -> Result<(), PlaylistError> {
        let base = source.base_url();
        let map = segment.map_line.map(|l| rewrite_uri_tag(source, l, base));
        if map.is_none() && self.map.is_some() {
            return Err(PlaylistError::MapCannotEnd);
        }
        if intro.discontinuity {
            self.body.push_str("#EXT-X-DISCONTINUITY\n");
        }
        if map != self.map {
            if let Some(line) = &map {
                self.push_line(line);
                self.uses_map = true;
            }
            self.map = map;
        }
        let key = segment.key_line.map(|l| rewrite_uri_tag(source, l, base));
        if key != self.key {
            let line = key
                .clone()
                .unwrap_or_else(|| "#EXT-X-KEY:METHOD=NONE".to_owned());
            self.push_line(&line);
            self.key = key;
        }
        if segment.program_date_time_ms.is_none() {
            if let Some(ms) = intro.program_date_time_ms {
                self.push_line(&format!(
                    "#EXT-X-PROGRAM-DATE-TIME:{}",
                    encode_date_time(ms)
                ));
            }
        }
        for index in segment.first_line..=segment.uri_line {
            self.copy_line(source, segment, index, base);
        }
        self.count(segment.duration);
        Ok(())
    }

    fn copy_line(&mut self, source: &Playlist, segment: &Segment, index: u32, base: Option<&str>) {
        let Some(line) = source.lines().get(index as usize) else {
            return;
        };
        match line.kind {
            LineKind::Tag(Tag::Discontinuity | Tag::Map | Tag::Key) => {}
            LineKind::Tag(Tag::ByteRange) => {
                self.uses_byte_range = true;
                match segment
                    .byte_range
                    .and_then(|r| r.offset.map(|o| (r.length, o)))
                {
                    Some((length, offset)) => {
                        self.push_line(&format!("#EXT-X-BYTERANGE:{length}@{offset}"))
                    }
                    None => self.push_line(source.line_text(index)),
                }
            }
            LineKind::Uri => {
                let uri = source.line_text(index);
                let resolved = base.map_or_else(|| uri.to_owned(), |b| resolve(b, uri));
                self.push_line(&resolved);
            }
            _ => self.push_line(source.line_text(index)),
        }
    }

    /// Writes a gap segment (`#EXT-X-GAP`) of `duration` pointing at `uri`.
    pub fn gap_segment(&mut self, duration: Micros, uri: &str, intro: SegmentIntro) {
        if intro.discontinuity {
            self.body.push_str("#EXT-X-DISCONTINUITY\n");
        }
        if let Some(ms) = intro.program_date_time_ms {
            self.push_line(&format!(
                "#EXT-X-PROGRAM-DATE-TIME:{}",
                encode_date_time(ms)
            ));
        }
        self.push_line("#EXT-X-GAP");
        self.push_line(&format!("#EXTINF:{duration},"));
        self.push_line(uri);
        self.count(duration);
    }

    fn count(&mut self, duration: Micros) {
        self.max_rounded_s = self.max_rounded_s.max(duration.round_secs());
        self.segments += 1;
    }

    fn push_line(&mut self, line: &str) {
        self.body.push_str(line);
        self.body.push('\n');
    }

    /// Number of segments written.
    pub fn segment_count(&self) -> usize {
        self.segments
    }

    /// Largest EXTINF written, rounded to whole seconds (the TARGETDURATION needed).
    pub fn target_duration(&self) -> u64 {
        self.max_rounded_s.max(1) as u64
    }

    /// The version the written features need, at least `floor`.
    pub fn version(&self, floor: u32) -> u32 {
        let mut v = floor.max(3);
        if self.uses_byte_range {
            v = v.max(4);
        }
        if self.uses_map {
            v = v.max(6);
        }
        v
    }

    /// Header, body and EXT-X-ENDLIST, parsed back into a playlist.
    pub fn finish(self, header: &HeaderSpec) -> Result<Playlist, PlaylistError> {
        let mut text = String::with_capacity(self.body.len() + 256);
        header.write(&mut text);
        text.push_str(&self.body);
        text.push_str("#EXT-X-ENDLIST\n");
        Playlist::parse(&text)
    }
}

/// An EXT-X-MAP or EXT-X-KEY line with its URI attribute resolved against `base`.
fn rewrite_uri_tag(source: &Playlist, index: u32, base: Option<&str>) -> String {
    let text = source.line_text(index);
    let Some(base) = base else {
        return text.to_owned();
    };
    let (head, value) = text.split_once(':').unwrap_or((text, ""));
    let Some(attributes) = decode_attributes(value) else {
        return text.to_owned();
    };
    let rewritten: Vec<String> = attributes
        .iter()
        .map(|a| match (a.name, a.quoted) {
            ("URI", true) => format!("URI=\"{}\"", resolve(base, a.value)),
            (name, true) => format!("{name}=\"{}\"", a.value),
            (name, false) => format!("{name}={}", a.value),
        })
        .collect();
    format!("{head}:{}", rewritten.join(","))
}

/// One recorded segment, as the recording server reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedSegment {
    /// URI relative to the playlist.
    pub uri: String,
    /// Exact duration.
    pub duration: Micros,
    /// Wall-clock time of its first frame, Unix ms.
    pub program_date_time_ms: Option<i64>,
    /// Starts a new push or a codec change (auto-splice, RFC 8216 §4.3.2.3).
    pub discontinuity: bool,
    /// URI of its initialization section (fragmented MP4: `EXT-X-MAP`, §4.3.2.5);
    /// `None` for MPEG-TS.
    pub map: Option<String>,
}

/// The playlist of one HLS recording, grown segment by segment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordingPlaylist {
    segments: Vec<RecordedSegment>,
}

impl RecordingPlaylist {
    /// An empty recording.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a finished segment.
    pub fn push(&mut self, segment: RecordedSegment) {
        self.segments.push(segment);
    }

    /// Segments so far.
    pub fn segments(&self) -> &[RecordedSegment] {
        &self.segments
    }

    /// Removes the last segment (it was never stored).
    pub fn pop(&mut self) -> Option<RecordedSegment> {
        self.segments.pop()
    }

    /// EXT-X-TARGETDURATION for the segments so far: the longest, rounded (RFC 8216
    /// §4.3.3.1), at least 1.
    pub fn target_duration(&self) -> u64 {
        self.segments
            .iter()
            .map(|s| s.duration.round_secs())
            .max()
            .unwrap_or(1)
            .max(1) as u64
    }

    /// The playlist text: `EVENT` while growing, `VOD` with EXT-X-ENDLIST once `ended`.
    /// PROGRAM-DATE-TIME is written on the first segment and after every discontinuity.
    pub fn render(&self, ended: bool) -> String {
        // EXT-X-MAP without EXT-X-I-FRAMES-ONLY needs version 6 (§7); 7 as ffmpeg's
        // fMP4 playlists and Apple's authoring specification have it.
        let fmp4 = self.segments.iter().any(|s| s.map.is_some());
        let header = HeaderSpec {
            version: if fmp4 { 7 } else { 3 },
            target_duration: self.target_duration(),
            playlist_type: Some(if ended {
                PlaylistType::Vod
            } else {
                PlaylistType::Event
            }),
            ..HeaderSpec::default()
        };
        let mut out = String::with_capacity(64 * self.segments.len() + 128);
        header.write(&mut out);
        out.push_str(&self.render_from(0));
        if ended {
            out.push_str("#EXT-X-ENDLIST\n");
        }
        out
    }

    /// The lines of segments `from..`, as [`Self::render`] writes them: what a growing
    /// `EVENT` playlist gains when segments are added and its target duration holds.
    pub fn render_from(&self, from: usize) -> String {
        use std::fmt::Write;
        let mut out = String::new();
        for (i, s) in self.segments.iter().enumerate().skip(from) {
            if s.discontinuity && i > 0 {
                out.push_str("#EXT-X-DISCONTINUITY\n");
            }
            let previous = i.checked_sub(1).and_then(|p| self.segments.get(p));
            match &s.map {
                Some(map) if previous.is_none_or(|p| p.map.as_ref() != Some(map)) => {
                    let _ = writeln!(out, "#EXT-X-MAP:URI=\"{map}\"");
                }
                _ => {}
            }
            if let (true, Some(ms)) = (i == 0 || s.discontinuity, s.program_date_time_ms) {
                let _ = writeln!(out, "#EXT-X-PROGRAM-DATE-TIME:{}", encode_date_time(ms));
            }
            let _ = writeln!(out, "#EXTINF:{},", s.duration);
            let _ = writeln!(out, "{}", s.uri);
        }
        out
    }
}
