//! `EXT-X-PROGRAM-DATE-TIME` values (RFC 8216 §4.3.2.6: ISO 8601 date and time with
//! time zone) to and from Unix milliseconds, written by hand: the common crates accept
//! RFC 3339 only, which rejects the `+0800` offsets real encoders write.
//!
//! Accepted: `YYYY-MM-DDThh:mm:ss[.fraction](Z|±hh:mm|±hhmm|±hh)`; a missing zone is read
//! as UTC and flagged so the validator can warn. Written: `YYYY-MM-DDThh:mm:ss.sssZ`.

/// A parsed date-time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateTime {
    /// Unix milliseconds (fractions beyond ms are truncated).
    pub unix_ms: i64,
    /// False when the text had no time zone (read as UTC).
    pub has_zone: bool,
}

/// Days from 1970-01-01 to the given civil date (proleptic Gregorian).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of a day count from 1970-01-01.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn number(text: &str, range: std::ops::RangeInclusive<i64>) -> Option<i64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok().filter(|n| range.contains(n))
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Reads a PROGRAM-DATE-TIME value.
pub fn decode_date_time(text: &str) -> Option<DateTime> {
    let (date, time) = text.split_once(['T', 't', ' '])?;
    let mut date_parts = date.splitn(3, '-');
    let year = number(date_parts.next()?, 0..=9999)?;
    let month = number(date_parts.next()?, 1..=12)?;
    let day = number(date_parts.next()?, 1..=31)?;
    if day > days_in_month(year, month) {
        return None;
    }
    let (clock, offset_s, has_zone) = split_zone(time)?;
    let (hms, frac) = clock.split_once('.').unwrap_or((clock, ""));
    let mut hms_parts = hms.splitn(3, ':');
    let hour = number(hms_parts.next()?, 0..=23)?;
    let minute = number(hms_parts.next()?, 0..=59)?;
    let second = number(hms_parts.next()?, 0..=60)?;
    if !frac.bytes().all(|b| b.is_ascii_digit()) || (clock.contains('.') && frac.is_empty()) {
        return None;
    }
    let millis = frac
        .bytes()
        .chain(std::iter::repeat(b'0'))
        .take(3)
        .fold(0i64, |acc, b| acc * 10 + i64::from(b - b'0'));
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset_s;
    Some(DateTime {
        unix_ms: secs * 1000 + millis,
        has_zone,
    })
}

/// Splits `hh:mm:ss.fff+08:00` into the clock text, the zone offset in seconds and
/// whether a zone was present.
fn split_zone(time: &str) -> Option<(&str, i64, bool)> {
    if let Some(clock) = time.strip_suffix(['Z', 'z']) {
        return Some((clock, 0, true));
    }
    let Some(at) = time.rfind(['+', '-']) else {
        return Some((time, 0, false));
    };
    let (clock, zone) = time.split_at(at);
    let sign = if zone.starts_with('-') { -1 } else { 1 };
    let digits: String = zone.get(1..)?.chars().filter(|c| *c != ':').collect();
    let (hours, minutes) = match digits.len() {
        2 => (number(&digits, 0..=23)?, 0),
        4 => (
            number(digits.get(..2)?, 0..=23)?,
            number(digits.get(2..)?, 0..=59)?,
        ),
        _ => return None,
    };
    let colon_ok = zone.len() == digits.len() + 1 || zone.get(3..4) == Some(":");
    colon_ok.then_some((clock, sign * (hours * 3600 + minutes * 60), true))
}

/// Writes Unix milliseconds as `YYYY-MM-DDThh:mm:ss.sssZ`.
pub fn encode_date_time(unix_ms: i64) -> String {
    let days = unix_ms.div_euclid(86_400_000);
    let in_day = unix_ms.rem_euclid(86_400_000);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        in_day / 3_600_000,
        in_day / 60_000 % 60,
        in_day / 1000 % 60,
        in_day % 1000
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: i64 = 1_700_000_000_123; // 2023-11-14T22:13:20.123Z

    #[test]
    fn decode_table() {
        let cases = [
            ("2023-11-14T22:13:20.123Z", Some((T, true))),
            ("2023-11-14T22:13:20.123+00:00", Some((T, true))),
            ("2023-11-15T06:13:20.123+08:00", Some((T, true))),
            ("2023-11-15T06:13:20.123+0800", Some((T, true))),
            ("2023-11-15T06:13:20.123+08", Some((T, true))),
            ("2023-11-14T17:13:20.123-05:00", Some((T, true))),
            ("2023-11-14T22:13:20.1234567Z", Some((T, true))),
            ("2023-11-14T22:13:20.12Z", Some((T - 3, true))),
            ("2023-11-14T22:13:20Z", Some((T - 123, true))),
            ("2023-11-14T22:13:20.123", Some((T, false))),
            ("2024-02-29T00:00:00Z", Some((1_709_164_800_000, true))),
            ("2023-02-29T00:00:00Z", None),
            ("2023-13-01T00:00:00Z", None),
            ("2023-11-14 22:13:20Z", Some((T - 123, true))),
            ("2023-11-14T25:00:00Z", None),
            ("2023-11-14T22:13:20.Z", None),
            ("2023-11-14T22:13:20+8:00", None),
            ("2023-11-14", None),
            ("", None),
            ("garbage", None),
        ];
        for (text, want) in cases {
            let got = decode_date_time(text).map(|d| (d.unix_ms, d.has_zone));
            assert_eq!(got, want, "{text:?}");
        }
    }

    #[test]
    fn encode_round_trips() {
        assert_eq!(encode_date_time(T), "2023-11-14T22:13:20.123Z");
        assert_eq!(encode_date_time(0), "1970-01-01T00:00:00.000Z");
        for ms in [0, T, -86_400_001, 253_402_300_799_999, 951_782_400_000] {
            assert_eq!(
                decode_date_time(&encode_date_time(ms)).map(|d| d.unix_ms),
                Some(ms)
            );
        }
    }
}
