//! The playlist model and its parser (RFC 8216 §4).
//!
//! A [`Playlist`] keeps the text it was parsed from and an index over it: every
//! non-blank line in order (tag, URI or comment), the media segments as spans of those
//! lines with their parsed attributes, and the header values. Writing emits the lines in
//! order, so parse → write → parse is lossless: unknown tags and comments stay exactly
//! where they were, EXTINF keeps its original decimal text. Blank lines and `\r` are not
//! kept (they carry no meaning, RFC 8216 §4.1).
//!
//! Why not m3u8-rs's parser and writer (the design's named crate): measured on 6.0.1, it
//! drops or moves playlist-level unknown tags, drops trailing tags and comments, stores
//! EXTINF as `f32`, rejects `+0800` PROGRAM-DATE-TIME offsets, and turns malformed tags
//! into unknown tags silently. Its parser is also the performance anchor this one must
//! beat severalfold (`benches/playlist.rs`).
//!
//! Lines are attached to segments as RFC 8216 §4.3.2 says: every tag between one URI and
//! the next belongs to the next segment. Tags before the first segment tag form the
//! header; lines after the last URI form the trailer (EXT-X-ENDLIST usually). Problems
//! found while reading are kept as diagnostics with line numbers, never guessed around.

pub use super::attributes::decode_integer;
use super::attributes::{decode_attributes, decode_byte_range, decode_start, find};
use super::datetime::decode_date_time;
use super::decimal::{decode_decimal, Micros};
use super::diagnostic::{Code, Diagnostic};
use super::tags::{split_tag, Scope, Tag};

/// Largest playlist text accepted, bytes: a week of 1-second segments with long URIs
/// stays far below; beyond this the input is not a playlist anyone can play.
pub const MAX_PLAYLIST_BYTES: usize = 64 * 1024 * 1024;
/// Most lines accepted (two per segment: a week of 1-second segments is 1.2 million).
pub const MAX_LINES: usize = 4_000_000;

/// Why a text cannot be parsed at all (as opposed to problems reported as diagnostics).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlaylistError {
    /// More than [`MAX_PLAYLIST_BYTES`].
    #[error("playlist is {bytes} bytes; at most {MAX_PLAYLIST_BYTES} are accepted")]
    TooLarge {
        /// Size given.
        bytes: usize,
    },
    /// More than [`MAX_LINES`] lines.
    #[error("playlist has more than {MAX_LINES} lines")]
    TooManyLines,
    /// A media operation was asked of a master playlist.
    #[error("this is a master playlist (it lists variant streams); a media playlist is needed")]
    NotMedia,
    /// Splice was given nothing.
    #[error("nothing to splice: give at least one playlist")]
    NothingToSplice,
    /// The operation's input has no segments to work on.
    #[error("{0}")]
    Empty(&'static str),
    /// Segments without EXT-X-MAP would follow segments with one: HLS cannot express it
    /// (RFC 8216 §4.3.2.5: a MAP applies to every following segment).
    #[error("segments without EXT-X-MAP (MPEG-TS) cannot follow segments with one (fragmented MP4); put the MPEG-TS playlists first")]
    MapCannotEnd,
    /// A clip range that selects nothing or is malformed.
    #[error("{0}")]
    BadRange(String),
}

/// What a line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineKind {
    /// A `#EXT` tag.
    Tag(Tag),
    /// A URI line.
    Uri,
    /// A `#` comment.
    Comment,
}

/// One non-blank line: where its text is and what it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Line {
    start: u32,
    len: u32,
    /// 1-based line number in the source text.
    pub number: u32,
    /// Kind of line.
    pub kind: LineKind,
}

/// `EXT-X-BYTERANGE` (§4.3.2.2) with its offset made explicit where the RFC implies it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteRange {
    /// Length in bytes.
    pub length: u64,
    /// Start offset; `None` only when it could not be derived (a diagnostic says so).
    pub offset: Option<u64>,
    /// Whether the tag wrote the offset.
    pub explicit: bool,
}

/// One media segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    /// Index (into the line list) of the segment's first line.
    pub first_line: u32,
    /// Index of its URI line.
    pub uri_line: u32,
    /// EXTINF duration.
    pub duration: Micros,
    /// Whether EXTINF had a decimal point (needs version 3).
    pub decimal_duration: bool,
    /// Preceded by EXT-X-DISCONTINUITY.
    pub discontinuity: bool,
    /// Its own EXT-X-PROGRAM-DATE-TIME, Unix ms.
    pub program_date_time_ms: Option<i64>,
    /// EXT-X-BYTERANGE.
    pub byte_range: Option<ByteRange>,
    /// Index of the EXT-X-MAP line in effect.
    pub map_line: Option<u32>,
    /// Index of the EXT-X-KEY line in effect (`None` also for METHOD=NONE).
    pub key_line: Option<u32>,
    /// Marked EXT-X-GAP.
    pub gap: bool,
}

/// `EXT-X-PLAYLIST-TYPE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum PlaylistType {
    /// Segments may be appended.
    Event,
    /// Complete and immutable.
    Vod,
}

/// Playlist-level values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Header {
    /// EXT-X-VERSION (absent means 1).
    pub version: Option<u32>,
    /// EXT-X-TARGETDURATION, seconds.
    pub target_duration: Option<u64>,
    /// EXT-X-MEDIA-SEQUENCE (default 0).
    pub media_sequence: u64,
    /// EXT-X-DISCONTINUITY-SEQUENCE (default 0).
    pub discontinuity_sequence: u64,
    /// EXT-X-PLAYLIST-TYPE.
    pub playlist_type: Option<PlaylistType>,
    /// EXT-X-ENDLIST present.
    pub end_list: bool,
    /// EXT-X-INDEPENDENT-SEGMENTS present.
    pub independent_segments: bool,
    /// EXT-X-I-FRAMES-ONLY present.
    pub i_frames_only: bool,
    /// EXT-X-START TIME-OFFSET and PRECISE.
    pub start: Option<(Micros, bool)>,
}

/// Media, master, or undecided (no segment and no variant).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Lists media segments.
    Media,
    /// Lists variant streams.
    Master,
    /// Neither yet (for example only a header).
    Unknown,
}

/// A parsed playlist; see the module doc.
#[derive(Debug, Clone)]
pub struct Playlist {
    text: String,
    lines: Vec<Line>,
    segments: Vec<Segment>,
    header: Header,
    header_end: u32,
    variants: u32,
    master_tags: u32,
    diagnostics: Vec<Diagnostic>,
    base_url: Option<String>,
    /// The text is exactly what writing would produce (no blank lines, no `\r`, final
    /// newline): writing is then a copy.
    verbatim: bool,
}

impl Playlist {
    /// Parses `text`. Only size limits fail; everything else is a diagnostic.
    pub fn parse(text: &str) -> Result<Playlist, PlaylistError> {
        Self::parse_owned(text.to_owned())
    }

    /// Parses `text`, keeping it without a copy.
    pub fn parse_owned(text: String) -> Result<Playlist, PlaylistError> {
        if text.len() > MAX_PLAYLIST_BYTES {
            return Err(PlaylistError::TooLarge { bytes: text.len() });
        }
        let mut parser = Parser::new(&text);
        parser.run()?;
        let mut playlist = parser.finish();
        playlist.text = text;
        Ok(playlist)
    }

    /// Sets the URL the playlist was loaded from (for resolving relative URIs).
    pub fn with_base_url(mut self, base_url: Option<String>) -> Self {
        self.base_url = base_url.filter(|u| !u.is_empty());
        self
    }

    /// The URL relative URIs resolve against.
    pub fn base_url(&self) -> Option<&str> {
        self.base_url.as_deref()
    }

    /// Every non-blank line.
    pub fn lines(&self) -> &[Line] {
        &self.lines
    }

    /// The text of line `index` (no line ending).
    pub fn line_text(&self, index: u32) -> &str {
        self.lines
            .get(index as usize)
            .and_then(|l| self.text.get(l.start as usize..(l.start + l.len) as usize))
            .unwrap_or("")
    }

    /// The value of tag line `index` (after the first `:`).
    pub fn tag_value(&self, index: u32) -> &str {
        split_tag(self.line_text(index)).1
    }

    /// The media segments.
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// The URI of segment `segment` as written.
    pub fn segment_uri(&self, segment: &Segment) -> &str {
        self.line_text(segment.uri_line)
    }

    /// The URI of the initialization section (EXT-X-MAP) in effect for `segment`.
    pub fn map_uri(&self, segment: &Segment) -> Option<&str> {
        self.tag_attribute(segment.map_line?, "URI")
    }

    /// Header values.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// Lines before the first segment's lines.
    pub fn header_lines(&self) -> std::ops::Range<u32> {
        0..self.header_end
    }

    /// Lines after the last segment's URI.
    pub fn trailer_lines(&self) -> std::ops::Range<u32> {
        let start = self
            .segments
            .last()
            .map_or(self.header_end, |s| s.uri_line + 1);
        start..self.lines.len() as u32
    }

    /// Media, master or unknown.
    pub fn kind(&self) -> Kind {
        match (
            self.segments.is_empty(),
            self.variants + self.master_tags == 0,
        ) {
            (false, _) => Kind::Media,
            (true, false) => Kind::Master,
            (true, true) if self.header.target_duration.is_some() => Kind::Media,
            _ => Kind::Unknown,
        }
    }

    /// Whether master-playlist tags appear (also in a mixed playlist).
    pub fn has_master_tags(&self) -> bool {
        self.variants + self.master_tags > 0
    }

    /// Problems found while parsing.
    pub fn parse_diagnostics(&self) -> &[Diagnostic] {
        &self.diagnostics
    }

    /// Media sequence number of segment `index`.
    pub fn media_sequence_of(&self, index: usize) -> u64 {
        self.header.media_sequence.saturating_add(index as u64)
    }

    /// Each segment's PROGRAM-DATE-TIME, explicit or derived: carried forward by
    /// durations from the last explicit one, not across a discontinuity that has none of
    /// its own; segments before the first explicit one are derived backwards while no
    /// discontinuity separates them.
    pub fn program_date_times(&self) -> Vec<Option<i64>> {
        let mut out = Vec::with_capacity(self.segments.len());
        let mut next: Option<i64> = None;
        for s in &self.segments {
            let at = match s.program_date_time_ms {
                Some(explicit) => Some(explicit),
                None if s.discontinuity => None,
                None => next,
            };
            next = at.map(|t| t.saturating_add(s.duration.as_millis()));
            out.push(at);
        }
        self.derive_leading(&mut out);
        out
    }

    fn derive_leading(&self, out: &mut [Option<i64>]) {
        let Some(first) = out.iter().position(Option::is_some) else {
            return;
        };
        let mut at = out.get(first).copied().flatten().unwrap_or(0);
        for i in (0..first).rev() {
            let Some(seg) = self.segments.get(i) else {
                break;
            };
            if self.segments.get(i + 1).is_some_and(|s| s.discontinuity) {
                break;
            }
            at = at.saturating_sub(seg.duration.as_millis());
            if let Some(slot) = out.get_mut(i) {
                *slot = Some(at);
            }
        }
    }

    /// Total of all EXTINF durations.
    pub fn total_duration(&self) -> Micros {
        self.segments
            .iter()
            .fold(Micros::ZERO, |acc, s| acc.saturating_add(s.duration))
    }

    /// The attribute value `name` of tag line `index` (for EXT-X-MAP / EXT-X-KEY URIs).
    pub fn tag_attribute(&self, index: u32, name: &str) -> Option<&str> {
        decode_attributes(self.tag_value(index)).and_then(|a| find(&a, name).map(|a| a.value))
    }

    /// Writes the playlist: every kept line, `\n`-terminated.
    pub fn to_text(&self) -> String {
        if self.verbatim {
            return self.text.clone();
        }
        let size: usize = self.lines.iter().map(|l| l.len as usize + 1).sum();
        let mut out = String::with_capacity(size);
        for line in &self.lines {
            if let Some(text) = self
                .text
                .get(line.start as usize..(line.start + line.len) as usize)
            {
                out.push_str(text);
            }
            out.push('\n');
        }
        out
    }
}

impl PlaylistError {
    /// A stable machine code for callers (JS `Error.code`, CLI messages).
    pub fn code(&self) -> &'static str {
        match self {
            PlaylistError::TooLarge { .. } | PlaylistError::TooManyLines => "LimitExceeded",
            PlaylistError::NotMedia => "NotMediaPlaylist",
            PlaylistError::NothingToSplice => "MissingArgument",
            PlaylistError::Empty(_) => "EmptyPlaylist",
            PlaylistError::MapCannotEnd => "IncompatiblePlaylists",
            PlaylistError::BadRange(_) => "InvalidRange",
        }
    }
}

impl std::fmt::Display for Playlist {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_text())
    }
}

/// A segment being assembled from its tags.
#[derive(Default)]
struct Pending {
    first_line: Option<u32>,
    extinf: Option<(Micros, bool)>,
    discontinuity: bool,
    pdt: Option<i64>,
    byte_range: Option<(u64, Option<u64>)>,
    gap: bool,
    stream_inf: bool,
}

struct Parser<'t> {
    text: &'t str,
    lines: Vec<Line>,
    segments: Vec<Segment>,
    header: Header,
    header_end: Option<u32>,
    variants: u32,
    master_tags: u32,
    diagnostics: Vec<Diagnostic>,
    pending: Pending,
    map_line: Option<u32>,
    key_line: Option<u32>,
    /// Playlist tags seen, one bit per `Tag` (duplicates are diagnosed in O(1)).
    seen: u64,
    previous_range: Option<(u32, u64)>,
    verbatim: bool,
}

impl<'t> Parser<'t> {
    fn new(text: &'t str) -> Self {
        Self {
            text,
            lines: Vec::with_capacity(text.len() / 24),
            segments: Vec::with_capacity(text.len() / 48),
            header: Header::default(),
            header_end: None,
            variants: 0,
            master_tags: 0,
            diagnostics: Vec::new(),
            pending: Pending::default(),
            map_line: None,
            key_line: None,
            seen: 0,
            previous_range: None,
            verbatim: true,
        }
    }

    fn run(&mut self) -> Result<(), PlaylistError> {
        let mut offset = 0usize;
        let total = self.text.len();
        for (number, raw) in self.text.split('\n').enumerate() {
            let start = offset;
            offset += raw.len() + 1;
            let line = raw.trim_end_matches('\r');
            if line.len() != raw.len() {
                self.verbatim = false;
            }
            if line.trim().is_empty() {
                // The piece after a final '\n' is empty; anything else blank is dropped.
                self.verbatim &= raw.is_empty() && start == total;
                continue;
            }
            if self.lines.len() >= MAX_LINES {
                return Err(PlaylistError::TooManyLines);
            }
            self.line(line, start as u32, number as u32 + 1);
        }
        if self
            .lines
            .first()
            .is_none_or(|l| l.kind != LineKind::Tag(Tag::ExtM3u))
        {
            let first = self.lines.first().map_or(1, |l| l.number);
            self.diagnostics.push(Diagnostic::error(
                Code::MissingHeader,
                first,
                "the first line must be #EXTM3U",
            ));
        }
        Ok(())
    }

    fn push_line(&mut self, start: u32, len: usize, number: u32, kind: LineKind) -> u32 {
        let index = self.lines.len() as u32;
        self.lines.push(Line {
            start,
            len: len as u32,
            number,
            kind,
        });
        index
    }

    fn line(&mut self, line: &str, start: u32, number: u32) {
        if !line.starts_with('#') {
            let index = self.push_line(start, line.len(), number, LineKind::Uri);
            self.uri(index, number);
            return;
        }
        if !line.starts_with("#EXT") {
            let index = self.push_line(start, line.len(), number, LineKind::Comment);
            self.attach(index, false);
            return;
        }
        let (tag, value) = split_tag(line);
        let index = self.push_line(start, line.len(), number, LineKind::Tag(tag));
        match tag.scope() {
            Scope::Segment => {
                self.attach(index, true);
                self.segment_tag(tag, value, index, number);
            }
            Scope::Master => {
                self.master_tags += u32::from(tag != Tag::StreamInf);
                self.pending.stream_inf |= tag == Tag::StreamInf;
                self.attach(index, false);
            }
            Scope::Playlist => {
                self.attach(index, false);
                self.playlist_tag(tag, value, number);
            }
            Scope::Unknown => self.attach(index, false),
        }
    }

    /// Records where the header ends and where a pending segment starts.
    fn attach(&mut self, index: u32, segment_tag: bool) {
        if self.header_end.is_none() {
            if !segment_tag {
                return;
            }
            self.header_end = Some(index);
        }
        if self.pending.first_line.is_none() {
            self.pending.first_line = Some(index);
        }
    }

    fn uri(&mut self, index: u32, number: u32) {
        if std::mem::take(&mut self.pending.stream_inf) {
            self.variants += 1;
            self.pending = Pending::default();
            return;
        }
        if self.header_end.is_none() {
            self.header_end = Some(index);
        }
        let pending = std::mem::take(&mut self.pending);
        let (duration, decimal) = pending.extinf.unwrap_or_else(|| {
            self.diagnostics.push(Diagnostic::error(
                Code::MissingExtinf,
                number,
                "a media segment URI must follow an EXTINF tag",
            ));
            (Micros::ZERO, false)
        });
        let byte_range = pending
            .byte_range
            .map(|(length, offset)| self.resolve_range(index, number, length, offset));
        self.segments.push(Segment {
            first_line: pending.first_line.unwrap_or(index),
            uri_line: index,
            duration,
            decimal_duration: decimal,
            discontinuity: pending.discontinuity,
            program_date_time_ms: pending.pdt,
            byte_range,
            map_line: self.map_line,
            key_line: self.key_line,
            gap: pending.gap,
        });
    }

    fn resolve_range(
        &mut self,
        uri_index: u32,
        number: u32,
        length: u64,
        offset: Option<u64>,
    ) -> ByteRange {
        let explicit = offset.is_some();
        let uri = self.line_str(uri_index);
        let derived = offset.or_else(|| match self.previous_range {
            Some((prev_uri, end)) if self.line_str(prev_uri) == uri => Some(end),
            _ => None,
        });
        if derived.is_none() {
            self.diagnostics.push(Diagnostic::error(
                Code::ByteRangeWithoutOffset,
                number,
                "EXT-X-BYTERANGE has no offset and the previous segment is not a range of the same resource",
            ));
        }
        self.previous_range = derived.map(|o| (uri_index, o.saturating_add(length)));
        ByteRange {
            length,
            offset: derived,
            explicit,
        }
    }

    fn line_str(&self, index: u32) -> &'t str {
        let text: &'t str = self.text;
        self.lines
            .get(index as usize)
            .and_then(|l| text.get(l.start as usize..(l.start + l.len) as usize))
            .unwrap_or("")
    }

    fn malformed(&mut self, number: u32, tag: Tag, value: &str) {
        let shown: String = value.chars().take(80).collect();
        self.diagnostics.push(Diagnostic::error(
            Code::MalformedTag,
            number,
            format!("#{} has a malformed value {shown:?}", tag.name()),
        ));
    }

    fn segment_tag(&mut self, tag: Tag, value: &str, index: u32, number: u32) {
        match tag {
            Tag::Inf => {
                let duration_text = value.split_once(',').map_or(value, |(d, _)| d).trim();
                match decode_decimal(duration_text) {
                    Some(d) => self.pending.extinf = Some((d, duration_text.contains('.'))),
                    None => self.malformed(number, tag, value),
                }
            }
            Tag::Discontinuity => self.pending.discontinuity = true,
            Tag::Gap => self.pending.gap = true,
            Tag::ProgramDateTime => self.program_date_time(value, number),
            Tag::ByteRange => match decode_byte_range(value) {
                Some(range) => self.pending.byte_range = Some(range),
                None => self.malformed(number, tag, value),
            },
            Tag::Map => {
                match decode_attributes(value).and_then(|a| find(&a, "URI").map(|u| u.quoted)) {
                    Some(true) => self.map_line = Some(index),
                    _ => self.malformed(number, tag, value),
                }
            }
            Tag::Key => self.key(value, index, number),
            _ => {}
        }
    }

    fn program_date_time(&mut self, value: &str, number: u32) {
        match decode_date_time(value) {
            Some(dt) => {
                if !dt.has_zone {
                    self.diagnostics.push(Diagnostic::warning(
                        Code::ProgramDateTimeWithoutZone,
                        number,
                        "EXT-X-PROGRAM-DATE-TIME has no time zone; read as UTC",
                    ));
                }
                self.pending.pdt = Some(dt.unix_ms);
            }
            None => self.diagnostics.push(Diagnostic::error(
                Code::MalformedProgramDateTime,
                number,
                format!(
                    "EXT-X-PROGRAM-DATE-TIME {:?} is not an ISO 8601 date-time",
                    value.chars().take(80).collect::<String>()
                ),
            )),
        }
    }

    fn key(&mut self, value: &str, index: u32, number: u32) {
        let Some(attributes) = decode_attributes(value) else {
            self.malformed(number, Tag::Key, value);
            return;
        };
        match find(&attributes, "METHOD").map(|m| m.value) {
            Some("NONE") => self.key_line = None,
            Some(_) if find(&attributes, "URI").is_some() => self.key_line = Some(index),
            _ => self.malformed(number, Tag::Key, value),
        }
    }

    fn playlist_tag(&mut self, tag: Tag, value: &str, number: u32) {
        let bit = 1u64 << (tag as u32 % 64);
        if tag != Tag::ExtM3u && self.seen & bit != 0 {
            self.diagnostics.push(Diagnostic::error(
                Code::DuplicateTag,
                number,
                format!("#{} may appear only once", tag.name()),
            ));
        }
        self.seen |= bit;
        if self.header.end_list && tag != Tag::EndList {
            self.diagnostics.push(Diagnostic::warning(
                Code::TagAfterEndList,
                number,
                format!("#{} after #EXT-X-ENDLIST", tag.name()),
            ));
        }
        let ok = match tag {
            Tag::ExtM3u => {
                if !self.lines.len().eq(&1) {
                    self.diagnostics.push(Diagnostic::error(
                        Code::MissingHeader,
                        number,
                        "#EXTM3U must be the first line",
                    ));
                }
                true
            }
            Tag::Version => set(
                &mut self.header.version,
                decode_integer(value).and_then(|v| u32::try_from(v).ok()),
            ),
            Tag::TargetDuration => set(&mut self.header.target_duration, decode_integer(value)),
            Tag::MediaSequence => self.sequence(value, number, true),
            Tag::DiscontinuitySequence => self.sequence(value, number, false),
            Tag::EndList => {
                self.header.end_list = true;
                true
            }
            Tag::PlaylistType => set(
                &mut self.header.playlist_type,
                match value {
                    "VOD" => Some(PlaylistType::Vod),
                    "EVENT" => Some(PlaylistType::Event),
                    _ => None,
                },
            ),
            Tag::IndependentSegments => {
                self.header.independent_segments = true;
                true
            }
            Tag::IFramesOnly => {
                self.header.i_frames_only = true;
                true
            }
            Tag::Start => set(&mut self.header.start, decode_start(value)),
            _ => true,
        };
        if !ok {
            self.malformed(number, tag, value);
        }
    }

    fn sequence(&mut self, value: &str, number: u32, media: bool) -> bool {
        if !self.segments.is_empty() || self.pending.first_line.is_some() {
            let name = if media {
                "EXT-X-MEDIA-SEQUENCE"
            } else {
                "EXT-X-DISCONTINUITY-SEQUENCE"
            };
            self.diagnostics.push(Diagnostic::error(
                Code::SequenceAfterFirstSegment,
                number,
                format!("#{name} must appear before the first media segment"),
            ));
        }
        let Some(n) = decode_integer(value) else {
            return false;
        };
        if media {
            self.header.media_sequence = n;
        } else {
            self.header.discontinuity_sequence = n;
        }
        true
    }

    fn finish(mut self) -> Playlist {
        if let Some(first) = self.pending.first_line {
            if self.pending.extinf.is_some() {
                let number = self.lines.get(first as usize).map_or(0, |l| l.number);
                self.diagnostics.push(Diagnostic::error(
                    Code::MissingUri,
                    number,
                    "media segment tags are not followed by a URI",
                ));
            }
        }
        let header_end = self.header_end.unwrap_or(self.lines.len() as u32);
        let verbatim = self.verbatim && (self.text.is_empty() || self.text.ends_with('\n'));
        Playlist {
            verbatim,
            text: String::new(),
            lines: self.lines,
            segments: self.segments,
            header: self.header,
            header_end,
            variants: self.variants,
            master_tags: self.master_tags,
            diagnostics: self.diagnostics,
            base_url: None,
        }
    }
}

/// Stores `value` in `slot`; false when there is no value (malformed).
fn set<T>(slot: &mut Option<T>, value: Option<T>) -> bool {
    match value {
        Some(v) => {
            *slot = Some(v);
            true
        }
        None => false,
    }
}
