//! Instants and ranges as `/playback` takes them: Unix seconds (`1796032980`, or with
//! up to three decimals) or ISO 8601 with a zone (`2026-11-30T10:03:00+08:00`,
//! `…Z`). A `+` that arrived as a space (form decoding of an unescaped query) is read as
//! `+`. A range is half-open, `[start, end)`, at most [`MAX_RANGE_MS`] long.

use thiserror::Error;

use crate::formats::hls::datetime::decode_date_time;

/// Longest range a playlist or MP4 covers: 24 hours (the bound; a day of
/// one-minute files is 1,440 playlists or 60 × 24 MP4 indexes).
pub const MAX_RANGE_MS: i64 = 24 * 3600 * 1000;
/// Longest instant text considered.
pub const MAX_INSTANT_LEN: usize = 64;
/// Latest instant accepted (year 9999), Unix ms: keeps every sum in range.
pub const MAX_INSTANT_MS: i64 = 253_402_300_799_000;

/// A problem with the requested range.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RangeError {
    /// A required end is missing.
    #[error("`{0}` is required (ISO 8601 with a zone, or Unix seconds)")]
    Missing(&'static str),
    /// Not an instant.
    #[error("`{field}` is not a time: {text:?} (ISO 8601 with a zone, or Unix seconds)")]
    BadTime {
        /// `start` or `end`.
        field: &'static str,
        /// What was sent (cut to [`MAX_INSTANT_LEN`]).
        text: String,
    },
    /// End at or before start.
    #[error("`end` must be after `start`")]
    Empty,
    /// Longer than [`MAX_RANGE_MS`].
    #[error("the range is {0} s long; at most 86400 s (24 h) can be played at once")]
    TooLong(i64),
}

impl RangeError {
    /// Stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Missing(_) => "MissingParameter",
            Self::BadTime { .. } => "InvalidParameter.TimeFormat",
            Self::Empty => "InvalidParameter.TimeRange",
            Self::TooLong(_) => "InvalidParameter.RangeTooLong",
        }
    }
}

/// A half-open time range, Unix ms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeRange {
    /// First instant, Unix ms.
    pub start_ms: i64,
    /// Instant after the last, Unix ms.
    pub end_ms: i64,
}

impl TimeRange {
    /// Length, ms.
    pub fn duration_ms(&self) -> i64 {
        self.end_ms - self.start_ms
    }

    /// Whether `[start_ms, end_ms)` overlaps this range.
    pub fn overlaps(&self, start_ms: i64, end_ms: i64) -> bool {
        start_ms < self.end_ms && end_ms > self.start_ms
    }

    /// A range for a playlist or an MP4: both ends required, at most [`MAX_RANGE_MS`].
    pub fn for_media(start: Option<&str>, end: Option<&str>) -> Result<Self, RangeError> {
        let start_ms = required("start", start)?;
        let end_ms = required("end", end)?;
        let range = Self::ordered(start_ms, end_ms)?;
        if range.duration_ms() > MAX_RANGE_MS {
            return Err(RangeError::TooLong(range.duration_ms() / 1000));
        }
        Ok(range)
    }

    /// A range for a listing: either end may be left open (the beginning of time, the
    /// latest instant).
    pub fn for_listing(start: Option<&str>, end: Option<&str>) -> Result<Self, RangeError> {
        let start_ms = optional("start", start)?.unwrap_or(0);
        let end_ms = optional("end", end)?.unwrap_or(MAX_INSTANT_MS);
        Self::ordered(start_ms, end_ms)
    }

    fn ordered(start_ms: i64, end_ms: i64) -> Result<Self, RangeError> {
        if end_ms <= start_ms {
            return Err(RangeError::Empty);
        }
        Ok(Self { start_ms, end_ms })
    }
}

fn required(field: &'static str, text: Option<&str>) -> Result<i64, RangeError> {
    optional(field, text)?.ok_or(RangeError::Missing(field))
}

fn optional(field: &'static str, text: Option<&str>) -> Result<Option<i64>, RangeError> {
    let Some(text) = text.filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    decode_instant(text)
        .map(Some)
        .ok_or_else(|| RangeError::BadTime {
            field,
            text: text.chars().take(MAX_INSTANT_LEN).collect(),
        })
}

/// Reads an instant (see the module doc), Unix ms.
pub fn decode_instant(text: &str) -> Option<i64> {
    if text.len() > MAX_INSTANT_LEN {
        return None;
    }
    let ms = if text.contains(['T', 't']) {
        let fixed = text.trim().replace(' ', "+");
        let parsed = decode_date_time(&fixed)?;
        parsed.has_zone.then_some(parsed.unix_ms)?
    } else {
        decode_unix_seconds(text)?
    };
    (0..=MAX_INSTANT_MS).contains(&ms).then_some(ms)
}

/// `SECONDS[.FRACTION]`, up to millisecond precision.
fn decode_unix_seconds(text: &str) -> Option<i64> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || whole.len() > 12 || !digits(whole) {
        return None;
    }
    if fraction.len() > 3 || !digits(fraction) || (text.contains('.') && fraction.is_empty()) {
        return None;
    }
    let seconds: i64 = whole.parse().ok()?;
    let mut ms: i64 = 0;
    for (i, b) in fraction.bytes().enumerate() {
        ms += i64::from(b - b'0') * [100, 10, 1].get(i).copied().unwrap_or(0);
    }
    seconds.checked_mul(1000)?.checked_add(ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants() {
        let table: &[(&str, Option<i64>)] = &[
            ("1796032980", Some(1_796_032_980_000)),
            ("1796032980.5", Some(1_796_032_980_500)),
            ("1796032980.123", Some(1_796_032_980_123)),
            ("1796032980.1234", None),
            ("1796032980.", None),
            ("-5", None),
            ("", None),
            ("2026-11-30T10:03:00Z", Some(1_796_032_980_000)),
            ("2026-11-30T18:03:00+08:00", Some(1_796_032_980_000)),
            ("2026-11-30T18:03:00 08:00", Some(1_796_032_980_000)),
            ("2026-11-30T18:03:00+0800", Some(1_796_032_980_000)),
            ("2026-11-30T10:03:00", None), // no zone: ambiguous
            ("2026-13-30T10:03:00Z", None),
            ("99999999999999", None),
        ];
        for (text, want) in table {
            assert_eq!(decode_instant(text), *want, "{text}");
        }
    }

    #[test]
    fn media_ranges() {
        let ok = TimeRange::for_media(Some("100"), Some("160")).unwrap();
        assert_eq!(
            (ok.start_ms, ok.end_ms, ok.duration_ms()),
            (100_000, 160_000, 60_000)
        );
        assert_eq!(
            TimeRange::for_media(None, Some("1")),
            Err(RangeError::Missing("start"))
        );
        assert_eq!(
            TimeRange::for_media(Some("5"), Some("5")),
            Err(RangeError::Empty)
        );
        assert_eq!(
            TimeRange::for_media(Some("0"), Some("86401")),
            Err(RangeError::TooLong(86_401))
        );
        assert!(TimeRange::for_media(Some("0"), Some("86400")).is_ok());
        let bad = TimeRange::for_media(Some("yesterday"), Some("1")).unwrap_err();
        assert_eq!(bad.code(), "InvalidParameter.TimeFormat");
        assert!(bad.to_string().contains("yesterday"));
    }

    #[test]
    fn listing_ranges_may_be_open() {
        let all = TimeRange::for_listing(None, None).unwrap();
        assert_eq!((all.start_ms, all.end_ms), (0, MAX_INSTANT_MS));
        assert!(all.overlaps(5, 6));
        assert!(!TimeRange::for_listing(Some("10"), None)
            .unwrap()
            .overlaps(0, 10_000));
    }
}
