//! Recording file names: the `VodFileName` pattern (reference §5).
//!
//! A pattern is literal text with placeholders `{StreamID}`, `{StartYear}` …
//! `{EndMillisecond}`. An empty pattern means the reference's default,
//! [`DEFAULT_VOD_FILE_NAME`]. Choices the reference leaves open, made here:
//! - date fields are zero-padded: year 4 digits, millisecond 3, the others 2
//!   (`{StartMonth}` of August is `08`);
//! - times are shown at a UTC offset given by the caller, default UTC+8
//!   ([`DEFAULT_UTC_OFFSET_MINUTES`]), the reference console's default;
//! - the rendered name is a base name without extension; the server appends `.flv`,
//!   `.m3u8`, `.mp4` or `.aac`.
//!
//! Safety: a rendered name never contains a path separator, `..`, a control character,
//! or more than [`MAX_FILE_NAME_BYTES`] bytes. Patterns are checked at validation
//! ([`validate_pattern`]): literal text is limited to [`is_safe_char`] characters, may not
//! start with `.` nor contain `..`, and its fixed part may not exceed
//! [`MAX_PATTERN_FIXED_BYTES`]. Stream names come from push URLs and are hostile by
//! default: [`render`] replaces every unsafe character with `_` and shortens the stream
//! name so the whole name fits.

use time::{OffsetDateTime, UtcOffset};

/// The reference's default pattern, used when `VodFileName` is empty.
pub const DEFAULT_VOD_FILE_NAME: &str = "{StreamID}_{StartYear}-{StartMonth}-{StartDay}-{StartHour}-{StartMinute}-{StartSecond}_{EndYear}-{EndMonth}-{EndDay}-{EndHour}-{EndMinute}-{EndSecond}";

/// UTC offset used for names when none is given: UTC+8, as the reference console.
pub const DEFAULT_UTC_OFFSET_MINUTES: i32 = 8 * 60;

/// Longest rendered name in bytes (without extension): far below the 255-byte limit of
/// common file systems and S3 key segments, leaving room for an extension and suffixes.
pub const MAX_FILE_NAME_BYTES: usize = 200;

/// Longest pattern text in bytes, before rendering.
pub const MAX_PATTERN_BYTES: usize = 512;

/// Longest fixed part of a rendered name (literal text plus date fields); the rest of
/// [`MAX_FILE_NAME_BYTES`] (at least 72 bytes) is kept for the stream name.
pub const MAX_PATTERN_FIXED_BYTES: usize = 128;

/// Largest UTC offset accepted, in minutes (UTC−14:00 … UTC+14:00 cover every real zone).
pub const MAX_UTC_OFFSET_MINUTES: i32 = 14 * 60;

/// Latest instant a name can show: 9999-12-31T23:59:59.999Z, so years keep four digits.
pub const MAX_TIMESTAMP_MS: i64 = 253_402_300_799_999;

/// One piece of a parsed pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Piece<'a> {
    /// Literal text, copied as is.
    Text(&'a str),
    /// A placeholder.
    Field(Placeholder),
}

/// Which end of the recording a date placeholder shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edge {
    /// The recording's first instant.
    Start,
    /// The recording's last instant.
    End,
}

/// A date component.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatePart {
    /// Four-digit year.
    Year,
    /// Two-digit month.
    Month,
    /// Two-digit day of month.
    Day,
    /// Two-digit hour (00–23).
    Hour,
    /// Two-digit minute.
    Minute,
    /// Two-digit second.
    Second,
    /// Three-digit millisecond.
    Millisecond,
}

impl DatePart {
    const ALL: [(DatePart, &'static str); 7] = [
        (DatePart::Year, "Year"),
        (DatePart::Month, "Month"),
        (DatePart::Day, "Day"),
        (DatePart::Hour, "Hour"),
        (DatePart::Minute, "Minute"),
        (DatePart::Second, "Second"),
        (DatePart::Millisecond, "Millisecond"),
    ];

    /// Rendered width in bytes.
    pub fn width(self) -> usize {
        match self {
            DatePart::Year => 4,
            DatePart::Millisecond => 3,
            _ => 2,
        }
    }
}

/// A placeholder of the reference's list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placeholder {
    /// `{StreamID}`: the stream name, sanitised.
    StreamId,
    /// `{Start…}` / `{End…}` date components.
    Date(Edge, DatePart),
}

impl Placeholder {
    /// Parses the text between braces.
    pub fn from_name(name: &str) -> Option<Self> {
        if name == "StreamID" {
            return Some(Placeholder::StreamId);
        }
        let (edge, rest) = if let Some(rest) = name.strip_prefix("Start") {
            (Edge::Start, rest)
        } else {
            (Edge::End, name.strip_prefix("End")?)
        };
        DatePart::ALL
            .iter()
            .find(|(_, n)| *n == rest)
            .map(|(part, _)| Placeholder::Date(edge, *part))
    }
}

/// Why a pattern is unacceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    /// Longer than [`MAX_PATTERN_BYTES`].
    #[error("is {0} bytes long; at most {MAX_PATTERN_BYTES} are allowed")]
    TooLong(usize),
    /// `{` without a matching `}`.
    #[error("has an unclosed '{{' at byte {0}")]
    Unclosed(usize),
    /// `}` without a matching `{`.
    #[error("has a '}}' without '{{' at byte {0}")]
    StrayClose(usize),
    /// A placeholder not in the reference's list.
    #[error("uses the unknown placeholder {{{0}}}; known: {{StreamID}}, {{StartYear}} … {{StartMillisecond}}, {{EndYear}} … {{EndMillisecond}}")]
    UnknownPlaceholder(String),
    /// A character that is unsafe in file names or URLs.
    #[error("contains {0:?}, which is not allowed in file names (allowed: letters, digits and _ - . + = @ ~ ( ) [ ])")]
    UnsafeChar(char),
    /// `..` or a leading `.`.
    #[error("must not start with '.' nor contain '..'")]
    DotPath,
    /// Fixed part too long.
    #[error(
        "renders {0} bytes before the stream name; at most {MAX_PATTERN_FIXED_BYTES} are allowed"
    )]
    FixedPartTooLong(usize),
}

/// Characters allowed in literal pattern text and kept in stream names: letters and
/// digits of any script, and `_ - . + = @ ~ ( ) [ ]`. Excludes path separators, control
/// characters, spaces, and characters with a meaning in URLs or shells (`% ? # & : * " < > |`).
pub fn is_safe_char(c: char) -> bool {
    c.is_alphanumeric()
        || matches!(
            c,
            '_' | '-' | '.' | '+' | '=' | '@' | '~' | '(' | ')' | '[' | ']'
        )
}

/// Splits a pattern into pieces (the empty pattern yields the default pattern's pieces).
pub fn parse(pattern: &str) -> Result<Vec<Piece<'_>>, PatternError> {
    let pattern = effective(pattern);
    if pattern.len() > MAX_PATTERN_BYTES {
        return Err(PatternError::TooLong(pattern.len()));
    }
    let mut pieces = Vec::new();
    let mut rest = pattern;
    let mut offset = 0;
    while !rest.is_empty() {
        let brace = rest.find(['{', '}']).unwrap_or(rest.len());
        if brace > 0 {
            let (text, tail) = rest.split_at(brace);
            pieces.push(Piece::Text(text));
            offset += brace;
            rest = tail;
            continue;
        }
        if rest.starts_with('}') {
            return Err(PatternError::StrayClose(offset));
        }
        let close = rest.find('}').ok_or(PatternError::Unclosed(offset))?;
        let name = rest.get(1..close).unwrap_or_default();
        if name.contains('{') {
            return Err(PatternError::Unclosed(offset));
        }
        let placeholder = Placeholder::from_name(name)
            .ok_or_else(|| PatternError::UnknownPlaceholder(name.to_owned()))?;
        pieces.push(Piece::Field(placeholder));
        offset += close + 1;
        rest = rest.get(close + 1..).unwrap_or_default();
    }
    Ok(pieces)
}

fn effective(pattern: &str) -> &str {
    if pattern.is_empty() {
        DEFAULT_VOD_FILE_NAME
    } else {
        pattern
    }
}

/// Checks a pattern as a template is validated; see the module doc for the rules.
pub fn validate_pattern(pattern: &str) -> Result<(), PatternError> {
    let pieces = parse(pattern)?;
    let mut fixed = 0;
    for piece in &pieces {
        match piece {
            Piece::Text(text) => {
                if let Some(c) = text.chars().find(|c| !is_safe_char(*c)) {
                    return Err(PatternError::UnsafeChar(c));
                }
                fixed += text.len();
            }
            Piece::Field(Placeholder::Date(_, part)) => fixed += part.width(),
            Piece::Field(Placeholder::StreamId) => {}
        }
    }
    if matches!(pieces.first(), Some(Piece::Text(t)) if t.starts_with('.'))
        || pattern.contains("..")
    {
        return Err(PatternError::DotPath);
    }
    if fixed > MAX_PATTERN_FIXED_BYTES {
        return Err(PatternError::FixedPartTooLong(fixed));
    }
    Ok(())
}

/// What a name is rendered from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameInputs<'a> {
    /// The stream name (untrusted).
    pub stream_id: &'a str,
    /// Recording start, Unix milliseconds.
    pub start_ms: i64,
    /// Recording end, Unix milliseconds.
    pub end_ms: i64,
    /// Offset from UTC of the shown times, minutes.
    pub utc_offset_minutes: i32,
}

/// Why a name cannot be rendered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    /// The pattern is not acceptable.
    #[error("VodFileName {0}")]
    Pattern(#[from] PatternError),
    /// A time outside 1970-01-01 … 9999-12-31.
    #[error("{field} must be between 0 and {MAX_TIMESTAMP_MS} Unix milliseconds, not {value}")]
    TimeOutOfRange {
        /// `StartMs` or `EndMs`.
        field: &'static str,
        /// The value given.
        value: i64,
    },
    /// End before start.
    #[error("EndMs ({end_ms}) is before StartMs ({start_ms})")]
    EndBeforeStart {
        /// Start given.
        start_ms: i64,
        /// End given.
        end_ms: i64,
    },
    /// Offset beyond ±14 h.
    #[error("UtcOffsetMinutes must be between -{MAX_UTC_OFFSET_MINUTES} and {MAX_UTC_OFFSET_MINUTES}, not {0}")]
    OffsetOutOfRange(i32),
}

/// Renders `pattern` (empty = default) for one file. See the module doc.
pub fn render(pattern: &str, inputs: &NameInputs<'_>) -> Result<String, RenderError> {
    validate_pattern(pattern)?;
    let pieces = parse(pattern)?;
    let start = local_time(inputs.start_ms, "StartMs", inputs.utc_offset_minutes)?;
    let end = local_time(inputs.end_ms, "EndMs", inputs.utc_offset_minutes)?;
    if inputs.end_ms < inputs.start_ms {
        return Err(RenderError::EndBeforeStart {
            start_ms: inputs.start_ms,
            end_ms: inputs.end_ms,
        });
    }
    let stream = stream_budget(&pieces, &sanitize_stream_id(inputs.stream_id));
    let mut name = String::with_capacity(MAX_FILE_NAME_BYTES);
    for piece in &pieces {
        match piece {
            Piece::Text(text) => name.push_str(text),
            Piece::Field(Placeholder::StreamId) => name.push_str(&stream),
            Piece::Field(Placeholder::Date(Edge::Start, part)) => {
                push_date(&mut name, &start, *part)
            }
            Piece::Field(Placeholder::Date(Edge::End, part)) => push_date(&mut name, &end, *part),
        }
    }
    Ok(finish_name(name))
}

fn local_time(
    ms: i64,
    field: &'static str,
    offset_minutes: i32,
) -> Result<OffsetDateTime, RenderError> {
    if !(0..=MAX_TIMESTAMP_MS).contains(&ms) {
        return Err(RenderError::TimeOutOfRange { field, value: ms });
    }
    if offset_minutes.unsigned_abs() > MAX_UTC_OFFSET_MINUTES.unsigned_abs() {
        return Err(RenderError::OffsetOutOfRange(offset_minutes));
    }
    let offset = UtcOffset::from_whole_seconds(offset_minutes * 60)
        .map_err(|_| RenderError::OffsetOutOfRange(offset_minutes))?;
    let utc = OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .map_err(|_| RenderError::TimeOutOfRange { field, value: ms })?;
    Ok(utc.to_offset(offset))
}

fn push_date(name: &mut String, t: &OffsetDateTime, part: DatePart) {
    use std::fmt::Write;
    let _ = match part {
        DatePart::Year => write!(name, "{:04}", t.year()),
        DatePart::Month => write!(name, "{:02}", u8::from(t.month())),
        DatePart::Day => write!(name, "{:02}", t.day()),
        DatePart::Hour => write!(name, "{:02}", t.hour()),
        DatePart::Minute => write!(name, "{:02}", t.minute()),
        DatePart::Second => write!(name, "{:02}", t.second()),
        DatePart::Millisecond => write!(name, "{:03}", t.millisecond()),
    };
}

/// Makes a stream name safe for a file name: unsafe characters become `_`.
pub fn sanitize_stream_id(stream_id: &str) -> String {
    stream_id
        .chars()
        .map(|c| if is_safe_char(c) { c } else { '_' })
        .collect()
}

/// Longest folder name made from an AppName or StreamName, bytes (file systems allow
/// 255; the margin is for suffixes).
pub const MAX_FOLDER_NAME_BYTES: usize = 200;

/// The folder of an AppName or StreamName: [`sanitize_stream_id`], and when that is
/// longer than [`MAX_FOLDER_NAME_BYTES`], its start with `~` and 16 hex digits of the
/// name's MD5 (distinct long names keep distinct folders). Names are never `.` or `..`
/// ([`crate::config::rule::check_push_names`]).
pub fn folder_name(name: &str) -> String {
    use md5::{Digest, Md5};
    let safe = sanitize_stream_id(name);
    if safe.len() <= MAX_FOLDER_NAME_BYTES {
        return safe;
    }
    let digest = Md5::digest(name.as_bytes());
    let tag: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    let keep = truncate_at_char(&safe, MAX_FOLDER_NAME_BYTES - 1 - tag.len());
    format!("{keep}~{tag}")
}

/// Shortens the stream name so the whole name fits in [`MAX_FILE_NAME_BYTES`].
fn stream_budget(pieces: &[Piece<'_>], stream: &str) -> String {
    let mut fixed = 0;
    let mut uses = 0;
    for piece in pieces {
        match piece {
            Piece::Text(text) => fixed += text.len(),
            Piece::Field(Placeholder::Date(_, part)) => fixed += part.width(),
            Piece::Field(Placeholder::StreamId) => uses += 1,
        }
    }
    if uses == 0 {
        return String::new();
    }
    let budget = MAX_FILE_NAME_BYTES.saturating_sub(fixed) / uses;
    truncate_at_char(stream, budget).to_owned()
}

fn truncate_at_char(s: &str, max_bytes: usize) -> &str {
    if s.len() <= max_bytes {
        return s;
    }
    let mut end = max_bytes;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or_default()
}

/// Final guard: no leading `.`, no `..`, never empty.
fn finish_name(name: String) -> String {
    let mut out = String::with_capacity(name.len());
    let mut previous = None;
    for c in name.chars() {
        let dot_run = c == '.' && (previous.is_none() || previous == Some('.'));
        out.push(if dot_run { '_' } else { c });
        previous = Some(c);
    }
    if out.is_empty() {
        out.push('_');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2023-11-14T22:13:20.123Z.
    const T0_MS: i64 = 1_700_000_000_123;

    fn inputs(stream: &str, start_ms: i64, end_ms: i64, offset: i32) -> NameInputs<'_> {
        NameInputs {
            stream_id: stream,
            start_ms,
            end_ms,
            utc_offset_minutes: offset,
        }
    }

    #[test]
    fn every_placeholder_renders_zero_padded() {
        // 2024-02-03T04:05:06.007Z and 2024-02-03T04:05:09.089Z, at UTC.
        let start = 1_706_933_106_007;
        let end = 1_706_933_109_089;
        let cases = [
            ("{StreamID}", "cam1"),
            ("{StartYear}", "2024"),
            ("{StartMonth}", "02"),
            ("{StartDay}", "03"),
            ("{StartHour}", "04"),
            ("{StartMinute}", "05"),
            ("{StartSecond}", "06"),
            ("{StartMillisecond}", "007"),
            ("{EndYear}", "2024"),
            ("{EndMonth}", "02"),
            ("{EndDay}", "03"),
            ("{EndHour}", "04"),
            ("{EndMinute}", "05"),
            ("{EndSecond}", "09"),
            ("{EndMillisecond}", "089"),
        ];
        for (pattern, want) in cases {
            let got = render(pattern, &inputs("cam1", start, end, 0)).unwrap();
            assert_eq!(got, want, "{pattern}");
        }
    }

    #[test]
    fn default_pattern_at_utc_plus_8() {
        let got = render(
            "",
            &inputs("test", T0_MS, T0_MS + 3_600_000, DEFAULT_UTC_OFFSET_MINUTES),
        )
        .unwrap();
        // 22:13:20Z is 06:13:20 the next day at UTC+8.
        assert_eq!(got, "test_2023-11-15-06-13-20_2023-11-15-07-13-20");
    }

    #[test]
    fn offsets_cross_day_month_and_year_boundaries() {
        // 2023-12-31T23:30:00Z
        let ms = 1_704_065_400_000;
        let p = "{StartYear}{StartMonth}{StartDay}{StartHour}{StartMinute}";
        let cases = [
            (0, "202312312330"),
            (480, "202401010730"),
            (-300, "202312311830"),
            (30, "202401010000"),
            (MAX_UTC_OFFSET_MINUTES, "202401011330"),
            (-MAX_UTC_OFFSET_MINUTES, "202312310930"),
        ];
        for (offset, want) in cases {
            assert_eq!(
                render(p, &inputs("s", ms, ms, offset)).unwrap(),
                want,
                "offset {offset}"
            );
        }
    }

    #[test]
    fn time_and_offset_edges() {
        let p = "{StartYear}";
        assert_eq!(render(p, &inputs("s", 0, 0, 0)).unwrap(), "1970");
        assert_eq!(
            render(p, &inputs("s", MAX_TIMESTAMP_MS, MAX_TIMESTAMP_MS, 0)).unwrap(),
            "9999"
        );
        assert!(matches!(
            render(p, &inputs("s", -1, 0, 0)),
            Err(RenderError::TimeOutOfRange {
                field: "StartMs",
                ..
            })
        ));
        assert!(matches!(
            render(p, &inputs("s", 0, MAX_TIMESTAMP_MS + 1, 0)),
            Err(RenderError::TimeOutOfRange { field: "EndMs", .. })
        ));
        assert!(matches!(
            render(p, &inputs("s", 10, 9, 0)),
            Err(RenderError::EndBeforeStart { .. })
        ));
        assert_eq!(
            render(p, &inputs("s", 0, 0, MAX_UTC_OFFSET_MINUTES + 1)),
            Err(RenderError::OffsetOutOfRange(MAX_UTC_OFFSET_MINUTES + 1))
        );
    }

    #[test]
    fn pattern_validation_table() {
        let ok = [
            "",
            "{StreamID}",
            "rec_{StreamID}_{StartYear}{StartMonth}",
            "直播_{StreamID}",
            "a.b-c+d=e@f~g(h)[i]",
        ];
        for p in ok {
            assert_eq!(validate_pattern(p), Ok(()), "{p:?}");
        }
        let long_fixed = "x".repeat(MAX_PATTERN_FIXED_BYTES + 1);
        let at_limit = "x".repeat(MAX_PATTERN_FIXED_BYTES);
        assert_eq!(validate_pattern(&at_limit), Ok(()));
        let bad: [(&str, PatternError); 12] = [
            ("a/b", PatternError::UnsafeChar('/')),
            ("a\\b", PatternError::UnsafeChar('\\')),
            ("a b", PatternError::UnsafeChar(' ')),
            ("a\u{7}b", PatternError::UnsafeChar('\u{7}')),
            ("a%2Fb", PatternError::UnsafeChar('%')),
            ("..{StreamID}", PatternError::DotPath),
            ("{StreamID}..x", PatternError::DotPath),
            (".hidden", PatternError::DotPath),
            (
                "{StreamId}",
                PatternError::UnknownPlaceholder("StreamId".into()),
            ),
            ("{StreamID", PatternError::Unclosed(0)),
            ("x}", PatternError::StrayClose(1)),
            (
                &long_fixed,
                PatternError::FixedPartTooLong(MAX_PATTERN_FIXED_BYTES + 1),
            ),
        ];
        for (p, want) in bad {
            assert_eq!(validate_pattern(p), Err(want), "{p:?}");
        }
        assert_eq!(
            validate_pattern("{{StartYear}}"),
            Err(PatternError::Unclosed(0))
        );
        let huge = "{StreamID}".repeat(60);
        assert_eq!(validate_pattern(&huge), Err(PatternError::TooLong(600)));
    }

    #[test]
    fn date_fields_count_towards_the_fixed_part() {
        // 22 years of 4 bytes = 88, plus 41 literal bytes = 129 > 128.
        let p = format!("{}{}", "{StartYear}".repeat(22), "y".repeat(41));
        assert_eq!(
            validate_pattern(&p),
            Err(PatternError::FixedPartTooLong(129))
        );
    }

    #[test]
    fn hostile_stream_names_are_sanitised() {
        let cases = [
            ("../../etc/passwd", "___.__etc_passwd"),
            ("a/b\\c", "a_b_c"),
            ("nul\0byte\n", "nul_byte_"),
            ("..", "__"),
            (".hidden", "_hidden"),
            ("", "_"),
            ("名前", "名前"),
            ("q?x=1&y#z", "q_x=1_y_z"),
        ];
        for (stream, want) in cases {
            let got = render("{StreamID}", &inputs(stream, 0, 0, 0)).unwrap();
            assert_eq!(got, want, "{stream:?}");
            assert!(!got.contains(".."));
            assert!(!got.contains('/'));
        }
    }

    #[test]
    fn long_stream_names_are_cut_to_fit() {
        let stream = "é".repeat(300); // 600 bytes
        for pattern in ["{StreamID}", "", "{StreamID}-{StreamID}-{StreamID}"] {
            let name = render(pattern, &inputs(&stream, T0_MS, T0_MS, 0)).unwrap();
            assert!(
                name.len() <= MAX_FILE_NAME_BYTES,
                "{pattern}: {}",
                name.len()
            );
            assert!(
                name.len() >= MAX_FILE_NAME_BYTES - 3,
                "{pattern}: {}",
                name.len()
            );
        }
        let fixed = "f".repeat(MAX_PATTERN_FIXED_BYTES);
        let name = render(&format!("{fixed}{{StreamID}}"), &inputs(&stream, 0, 0, 0)).unwrap();
        assert_eq!(name.len(), MAX_FILE_NAME_BYTES);
    }

    #[test]
    fn pattern_ending_in_dot_meeting_stream_starting_with_dot() {
        let got = render("rec.{StreamID}", &inputs(".x", 0, 0, 0)).unwrap();
        assert_eq!(got, "rec._x");
    }

    #[test]
    fn folder_names_are_safe_and_bounded() {
        assert_eq!(folder_name("cam-1"), "cam-1");
        assert_eq!(folder_name(".hidden"), ".hidden");
        assert_eq!(folder_name("a:b*c"), "a_b_c");
        let cjk = "流".repeat(85); // 255 bytes
        let long = folder_name(&cjk);
        assert!(long.len() <= MAX_FOLDER_NAME_BYTES, "{}", long.len());
        assert!(long.starts_with("流流流"));
        let other = folder_name(&format!("{}x", "流".repeat(84)));
        assert_ne!(long, other, "distinct long names keep distinct folders");
        let ascii = folder_name(&"s".repeat(256));
        assert_eq!(ascii.len(), MAX_FOLDER_NAME_BYTES);
        assert_eq!(folder_name(&"s".repeat(200)), "s".repeat(200));
    }
}
