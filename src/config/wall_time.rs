//! Wall-clock text used by the reference API's outputs.
//!
//! `RuleInfo.CreateTime`/`UpdateTime` are `YYYY-MM-DD hh:mm:ss` in Beijing time (UTC+8,
//! reference §2.5). The instant is always an argument: this layer has no clock.

use time::{OffsetDateTime, UtcOffset};

/// Beijing time's offset from UTC, seconds.
pub const BEIJING_OFFSET_S: i32 = 8 * 3600;

/// Formats Unix seconds as `YYYY-MM-DD hh:mm:ss` at UTC+8; `None` outside years 0–9999.
pub fn beijing_datetime(unix_s: i64) -> Option<String> {
    let offset = UtcOffset::from_whole_seconds(BEIJING_OFFSET_S).ok()?;
    let t = OffsetDateTime::from_unix_timestamp(unix_s)
        .ok()?
        .to_offset(offset);
    if !(0..=9999).contains(&t.year()) {
        return None;
    }
    Some(format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_at_utc_plus_8() {
        assert_eq!(beijing_datetime(0).as_deref(), Some("1970-01-01 08:00:00"));
        // 2018-09-12 07:52:01Z, the reference's example shown in Beijing time.
        assert_eq!(
            beijing_datetime(1_536_738_721).as_deref(),
            Some("2018-09-12 15:52:01")
        );
        assert_eq!(beijing_datetime(i64::MAX), None);
    }
}
