//! Problems found in a playlist, each tied to a line: `{code, line, message, severity}`.

use serde::Serialize;

/// How bad a problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Players may still cope; worth fixing.
    Warning,
    /// Breaks RFC 8216; players may refuse or misplay.
    Error,
}

/// What is wrong. Stable machine codes (the variant names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Code {
    /// The first line is not `#EXTM3U` (RFC 8216 §4.3.1.1).
    MissingHeader,
    /// A tag whose value does not parse.
    MalformedTag,
    /// A PROGRAM-DATE-TIME that is not an ISO 8601 date-time (§4.3.2.6).
    MalformedProgramDateTime,
    /// A PROGRAM-DATE-TIME without a time zone (read as UTC).
    ProgramDateTimeWithoutZone,
    /// A tag that may appear once appears again.
    DuplicateTag,
    /// A media playlist without EXT-X-TARGETDURATION (§4.3.3.1).
    MissingTargetDuration,
    /// An EXTINF, rounded, exceeds EXT-X-TARGETDURATION (§4.3.3.1).
    TargetDurationExceeded,
    /// MEDIA-SEQUENCE or DISCONTINUITY-SEQUENCE after the first segment (§4.3.3.2–3).
    SequenceAfterFirstSegment,
    /// A feature needs a higher EXT-X-VERSION than declared (§7).
    VersionTooLow,
    /// A fragmented-MP4 segment with no EXT-X-MAP in effect (§4.3.2.5).
    MissingMap,
    /// The init section changes without a discontinuity.
    MapChangeWithoutDiscontinuity,
    /// PLAYLIST-TYPE:VOD without EXT-X-ENDLIST (§4.3.3.5).
    MissingEndList,
    /// Segment tags with no URI after them.
    MissingUri,
    /// A URI line with no EXTINF before it (§4.3.2.1).
    MissingExtinf,
    /// A BYTERANGE without offset whose previous segment is not the same resource.
    ByteRangeWithoutOffset,
    /// Master and media playlist tags in one playlist (§4).
    MixedPlaylist,
    /// An operation needs a media playlist and got a master playlist.
    MasterPlaylist,
    /// A tag after EXT-X-ENDLIST.
    TagAfterEndList,
    /// A media playlist with no segment.
    EmptyPlaylist,
}

/// One problem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// What is wrong.
    pub code: Code,
    /// 1-based line number in the parsed text (0: the playlist as a whole).
    pub line: u32,
    /// Explanation.
    pub message: String,
    /// How bad.
    pub severity: Severity,
}

impl Diagnostic {
    /// An error at `line`.
    pub fn error(code: Code, line: u32, message: impl Into<String>) -> Self {
        Self {
            code,
            line,
            message: message.into(),
            severity: Severity::Error,
        }
    }

    /// A warning at `line`.
    pub fn warning(code: Code, line: u32, message: impl Into<String>) -> Self {
        Self {
            code,
            line,
            message: message.into(),
            severity: Severity::Warning,
        }
    }
}
