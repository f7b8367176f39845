//! Exact durations: RFC 8216 §4.2 `decimal-floating-point` values (EXTINF, TIME-OFFSET)
//! read into whole microseconds, never through `f32`/`f64`, so `6.006` stays 6.006 s.

use std::fmt;

/// A duration or time offset in microseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Micros(pub i64);

/// Largest value accepted: about 292 000 years, far beyond any playlist, so sums of up to
/// a few million segments never overflow `i64`.
pub const MAX_MICROS: i64 = i64::MAX / 1024;

impl Micros {
    /// Zero.
    pub const ZERO: Micros = Micros(0);

    /// From whole milliseconds.
    pub fn from_millis(ms: i64) -> Self {
        Micros(ms.saturating_mul(1000))
    }

    /// Whole milliseconds, rounded down.
    pub fn as_millis(self) -> i64 {
        self.0.div_euclid(1000)
    }

    /// Seconds as a float, for display and JS numbers only.
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e6
    }

    /// From seconds given as a float (JS input); `None` when not finite or out of range.
    pub fn from_secs_f64(secs: f64) -> Option<Self> {
        let us = (secs * 1e6).round();
        (us.is_finite() && us.abs() <= MAX_MICROS as f64).then_some(Micros(us as i64))
    }

    /// Rounded to the nearest whole second, halves up (RFC 8216 §4.3.3.1 rounding of
    /// EXTINF against TARGETDURATION).
    pub fn round_secs(self) -> i64 {
        (self.0 + 500_000).div_euclid(1_000_000)
    }

    /// Saturating sum.
    pub fn saturating_add(self, other: Micros) -> Micros {
        Micros(self.0.saturating_add(other.0))
    }

    /// Saturating difference.
    pub fn saturating_sub(self, other: Micros) -> Micros {
        Micros(self.0.saturating_sub(other.0))
    }
}

/// Reads a non-negative `decimal-floating-point`: digits, optionally `.` and digits.
/// Digits past the sixth decimal are rounded (half up). `None` for anything else.
pub fn decode_decimal(text: &str) -> Option<Micros> {
    let (int, frac) = match text.split_once('.') {
        Some((i, f)) => (i, f),
        None => (text, ""),
    };
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    if !int.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut secs: i64 = 0;
    for b in int.bytes() {
        secs = secs.checked_mul(10)?.checked_add(i64::from(b - b'0'))?;
        if secs > MAX_MICROS / 1_000_000 {
            return None;
        }
    }
    let mut micros: i64 = 0;
    let mut scale = 100_000;
    let mut round_up = false;
    for (i, b) in frac.bytes().enumerate() {
        let digit = i64::from(b - b'0');
        if i < 6 {
            micros += digit * scale;
            scale /= 10;
        } else if i == 6 {
            round_up = digit >= 5;
        }
    }
    Some(Micros(secs * 1_000_000 + micros + i64::from(round_up)))
}

/// Reads a signed `signed-decimal-floating-point` (EXT-X-START TIME-OFFSET).
pub fn decode_signed_decimal(text: &str) -> Option<Micros> {
    match text.strip_prefix('-') {
        Some(rest) => decode_decimal(rest).map(|m| Micros(-m.0)),
        None => decode_decimal(text),
    }
}

impl fmt::Display for Micros {
    /// Seconds with at least three decimals, trailing zeros past them trimmed:
    /// `2.000`, `6.006`, `0.033367`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        let (secs, frac) = (abs / 1_000_000, abs % 1_000_000);
        let mut digits = format!("{frac:06}");
        while digits.len() > 3 && digits.ends_with('0') {
            digits.pop();
        }
        write!(f, "{sign}{secs}.{digits}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_table() {
        let cases = [
            ("6.006", Some(6_006_000)),
            ("10", Some(10_000_000)),
            ("10.", Some(10_000_000)),
            (".5", Some(500_000)),
            ("0.0333667", Some(33_367)),
            ("0.0333664", Some(33_366)),
            ("2.0000005", Some(2_000_001)),
            ("1.999999999", Some(2_000_000)),
            ("", None),
            (".", None),
            ("-1", None),
            ("1e3", None),
            ("1,5", None),
            (" 1", None),
            ("99999999999999999999", None),
        ];
        for (text, want) in cases {
            assert_eq!(decode_decimal(text).map(|m| m.0), want, "{text:?}");
        }
        assert_eq!(decode_signed_decimal("-2.5"), Some(Micros(-2_500_000)));
    }

    #[test]
    fn display_and_rounding() {
        assert_eq!(Micros(2_000_000).to_string(), "2.000");
        assert_eq!(Micros(6_006_000).to_string(), "6.006");
        assert_eq!(Micros(33_367).to_string(), "0.033367");
        assert_eq!(Micros(-1_500_000).to_string(), "-1.500");
        assert_eq!(Micros(6_499_999).round_secs(), 6);
        assert_eq!(Micros(6_500_000).round_secs(), 7);
        for text in ["6.006", "0.033367", "2.000", "1234.5"] {
            let m = decode_decimal(text).unwrap();
            assert_eq!(decode_decimal(&m.to_string()), Some(m));
        }
    }
}
