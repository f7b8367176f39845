//! Tag names of RFC 8216 §4.3 (and the later HLS draft tags players meet), classified
//! by where they belong: the playlist header, a media segment, or a master playlist.

/// A recognised tag, or [`Tag::Unknown`] (kept verbatim, never dropped).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum Tag {
    ExtM3u,
    Version,
    TargetDuration,
    MediaSequence,
    DiscontinuitySequence,
    EndList,
    PlaylistType,
    IFramesOnly,
    IndependentSegments,
    Start,
    Define,
    PartInf,
    ServerControl,
    Inf,
    ByteRange,
    Discontinuity,
    Key,
    Map,
    ProgramDateTime,
    DateRange,
    Gap,
    Bitrate,
    Part,
    PreloadHint,
    RenditionReport,
    Skip,
    StreamInf,
    Media,
    IFrameStreamInf,
    SessionData,
    SessionKey,
    ContentSteering,
    Unknown,
}

/// Where a tag belongs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Applies to the whole media playlist (RFC 8216 §4.3.3) or both kinds (§4.3.5).
    Playlist,
    /// Applies to the next media segment (§4.3.2).
    Segment,
    /// Master playlist only (§4.3.4).
    Master,
    /// Not recognised.
    Unknown,
}

const NAMES: [(&str, Tag); 32] = [
    ("EXTM3U", Tag::ExtM3u),
    ("EXTINF", Tag::Inf),
    ("EXT-X-VERSION", Tag::Version),
    ("EXT-X-TARGETDURATION", Tag::TargetDuration),
    ("EXT-X-MEDIA-SEQUENCE", Tag::MediaSequence),
    ("EXT-X-DISCONTINUITY-SEQUENCE", Tag::DiscontinuitySequence),
    ("EXT-X-ENDLIST", Tag::EndList),
    ("EXT-X-PLAYLIST-TYPE", Tag::PlaylistType),
    ("EXT-X-I-FRAMES-ONLY", Tag::IFramesOnly),
    ("EXT-X-INDEPENDENT-SEGMENTS", Tag::IndependentSegments),
    ("EXT-X-START", Tag::Start),
    ("EXT-X-DEFINE", Tag::Define),
    ("EXT-X-PART-INF", Tag::PartInf),
    ("EXT-X-SERVER-CONTROL", Tag::ServerControl),
    ("EXT-X-BYTERANGE", Tag::ByteRange),
    ("EXT-X-DISCONTINUITY", Tag::Discontinuity),
    ("EXT-X-KEY", Tag::Key),
    ("EXT-X-MAP", Tag::Map),
    ("EXT-X-PROGRAM-DATE-TIME", Tag::ProgramDateTime),
    ("EXT-X-DATERANGE", Tag::DateRange),
    ("EXT-X-GAP", Tag::Gap),
    ("EXT-X-BITRATE", Tag::Bitrate),
    ("EXT-X-PART", Tag::Part),
    ("EXT-X-PRELOAD-HINT", Tag::PreloadHint),
    ("EXT-X-RENDITION-REPORT", Tag::RenditionReport),
    ("EXT-X-SKIP", Tag::Skip),
    ("EXT-X-STREAM-INF", Tag::StreamInf),
    ("EXT-X-MEDIA", Tag::Media),
    ("EXT-X-I-FRAME-STREAM-INF", Tag::IFrameStreamInf),
    ("EXT-X-SESSION-DATA", Tag::SessionData),
    ("EXT-X-SESSION-KEY", Tag::SessionKey),
    ("EXT-X-CONTENT-STEERING", Tag::ContentSteering),
];

impl Tag {
    /// Recognises the name part of a tag line (`#EXT-X-MAP:URI=...` → `EXT-X-MAP`).
    pub fn from_name(name: &str) -> Tag {
        if name == "EXTINF" {
            return Tag::Inf;
        }
        NAMES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, t)| *t)
            .unwrap_or(Tag::Unknown)
    }

    /// The tag's name as written.
    pub fn name(self) -> &'static str {
        NAMES
            .iter()
            .find(|(_, t)| *t == self)
            .map(|(n, _)| *n)
            .unwrap_or("")
    }

    /// Where the tag belongs.
    pub fn scope(self) -> Scope {
        use Tag::*;
        match self {
            Inf | ByteRange | Discontinuity | Key | Map | ProgramDateTime | DateRange | Gap
            | Bitrate | Part | PreloadHint | RenditionReport | Skip => Scope::Segment,
            StreamInf | Media | IFrameStreamInf | SessionData | SessionKey | ContentSteering => {
                Scope::Master
            }
            Unknown => Scope::Unknown,
            _ => Scope::Playlist,
        }
    }
}

/// Splits a `#EXT…` line into its tag and value (text after the first `:`, or empty).
pub fn split_tag(line: &str) -> (Tag, &str) {
    let body = line.get(1..).unwrap_or("");
    match body.split_once(':') {
        Some((name, value)) => (Tag::from_name(name), value),
        None => (Tag::from_name(body), ""),
    }
}
