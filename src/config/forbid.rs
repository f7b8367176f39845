//! Forbidden streams: `ForbidLiveStream` / `ResumeLiveStream` (reference §3.14) — pure.
//!
//! A forbidden stream's push is ended and every publish of it is refused until its
//! `ResumeTime` (UTC ISO 8601; default [`DEFAULT_FORBID_S`] from now, at most
//! [`MAX_FORBID_S`]). The reference matches a forbid on the stream name alone unless a
//! support ticket turns on exact matching; liverec always matches the exact
//! `domain/app/stream` (domain compared without case), as every other liverec rule
//! does — a forbid never reaches a stream of another tenant's domain.

use serde::{Deserialize, Serialize};

use super::json::Fields;
use super::problem::ErrorCode;
use crate::formats::hls::datetime::decode_date_time;

/// How long a forbid lasts when `ResumeTime` is not given: 7 days.
pub const DEFAULT_FORBID_S: i64 = 7 * 86_400;
/// The longest forbid: 90 days.
pub const MAX_FORBID_S: i64 = 90 * 86_400;
/// The longest `Reason`, bytes.
pub const MAX_REASON_BYTES: usize = 2048;
/// The longest name accepted in a stream's identity (domain, app or stream), bytes.
pub const MAX_NAME_BYTES: usize = 256;

/// A stream named by domain, app and stream name.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StreamName {
    /// Push domain (lower case).
    pub domain: String,
    /// AppName.
    pub app: String,
    /// StreamName.
    pub stream: String,
}

impl StreamName {
    /// The key live pushes are registered by: `domain/app/stream`.
    pub fn key(&self) -> String {
        format!("{}/{}/{}", self.domain, self.app, self.stream)
    }
}

/// Reads the required `DomainName`, `AppName` and `StreamName` of a stream action.
pub fn read_stream_name(f: &mut Fields<'_>) -> StreamName {
    fn name(f: &mut Fields<'_>, field: &'static str) -> String {
        let value = f.required_string(field).unwrap_or_default().to_owned();
        if value.len() > MAX_NAME_BYTES {
            f.problem(
                ErrorCode::InvalidParameter,
                field,
                format!("longer than {MAX_NAME_BYTES} bytes"),
            );
        }
        value
    }
    StreamName {
        domain: name(f, "DomainName").to_ascii_lowercase(),
        app: name(f, "AppName"),
        stream: name(f, "StreamName"),
    }
}

/// A stream refused until its resume time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ForbiddenStream {
    /// Push domain (lower case).
    pub domain_name: String,
    /// AppName.
    pub app_name: String,
    /// StreamName.
    pub stream_name: String,
    /// When pushes are accepted again, Unix seconds.
    pub resume_time: i64,
    /// Why (as given).
    pub reason: String,
    /// When it was forbidden, Unix seconds.
    pub create_time: i64,
}

impl ForbiddenStream {
    /// The key of the stream it forbids (`domain/app/stream`).
    pub fn key(&self) -> String {
        format!(
            "{}/{}/{}",
            self.domain_name, self.app_name, self.stream_name
        )
    }

    /// Whether it still forbids pushes at `now_s`.
    pub fn active_at(&self, now_s: i64) -> bool {
        now_s < self.resume_time
    }
}

/// Reads a `ForbidLiveStream` request made at `now_s`.
pub fn read_forbid(f: &mut Fields<'_>, now_s: i64) -> ForbiddenStream {
    let name = read_stream_name(f);
    let resume_time = match f.string("ResumeTime") {
        None | Some("") => now_s + DEFAULT_FORBID_S,
        Some(text) => resume_time(f, text, now_s).unwrap_or(now_s),
    };
    let reason = f.string("Reason").unwrap_or_default().to_owned();
    if reason.len() > MAX_REASON_BYTES {
        f.problem(
            ErrorCode::InvalidParameter,
            "Reason",
            format!("longer than {MAX_REASON_BYTES} bytes"),
        );
    }
    ForbiddenStream {
        domain_name: name.domain,
        app_name: name.app,
        stream_name: name.stream,
        resume_time,
        reason,
        create_time: now_s,
    }
}

/// `ResumeTime`: an ISO 8601 time with a zone, after `now_s` and at most
/// [`MAX_FORBID_S`] after it.
fn resume_time(f: &mut Fields<'_>, text: &str, now_s: i64) -> Option<i64> {
    fn bad(f: &mut Fields<'_>, message: String) -> Option<i64> {
        f.problem(ErrorCode::InvalidParameter, "ResumeTime", message);
        None
    }
    let Some(time) = decode_date_time(text).filter(|t| t.has_zone) else {
        return bad(
            f,
            format!("{text:?} is not a UTC ISO 8601 time such as 2018-11-29T19:00:00Z"),
        );
    };
    let at = time.unix_ms.div_euclid(1000);
    if at <= now_s {
        return bad(f, format!("{text:?} is not in the future"));
    }
    if at - now_s > MAX_FORBID_S {
        return bad(f, format!("{text:?} is more than 90 days away"));
    }
    Some(at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: i64 = 1_800_000_000; // 2027-01-15T08:00:00Z

    fn forbid(params: serde_json::Value) -> Result<ForbiddenStream, Vec<String>> {
        let mut problems = Vec::new();
        let mut f = Fields::open(&params, "", &mut problems).unwrap();
        let out = read_forbid(&mut f, NOW);
        f.finish();
        if problems.is_empty() {
            Ok(out)
        } else {
            Err(problems.iter().map(|p| p.field.clone()).collect())
        }
    }

    fn names() -> serde_json::Value {
        json!({"DomainName": "Push.Example.com", "AppName": "live", "StreamName": "cam"})
    }

    #[test]
    fn defaults_to_seven_days_and_matches_the_exact_stream() {
        let f = forbid(names()).unwrap();
        assert_eq!(f.resume_time, NOW + DEFAULT_FORBID_S);
        assert_eq!(f.key(), "push.example.com/live/cam");
        assert!(f.active_at(NOW) && !f.active_at(f.resume_time));
    }

    #[test]
    fn resume_time_is_a_zoned_future_time_within_90_days() {
        let mut p = names();
        p["ResumeTime"] = json!("2027-01-16T08:00:00Z");
        assert_eq!(forbid(p.clone()).unwrap().resume_time, NOW + 86_400);
        p["ResumeTime"] = json!("2027-01-16T16:00:00+08:00");
        assert_eq!(forbid(p.clone()).unwrap().resume_time, NOW + 86_400);
        for bad in [
            "2027-01-16T08:00:00",
            "2027-01-15T07:00:00Z",
            "2027-06-16T08:00:00Z",
            "tomorrow",
        ] {
            p["ResumeTime"] = json!(bad);
            assert_eq!(forbid(p.clone()).unwrap_err(), ["ResumeTime"], "{bad}");
        }
    }

    #[test]
    fn names_are_required_and_bounded_reason_too() {
        assert_eq!(
            forbid(json!({"AppName": "live", "StreamName": "cam"})).unwrap_err(),
            ["DomainName"]
        );
        let mut p = names();
        p["Reason"] = json!("x".repeat(MAX_REASON_BYTES + 1));
        assert_eq!(forbid(p).unwrap_err(), ["Reason"]);
        let mut p = names();
        p["StreamName"] = json!("s".repeat(MAX_NAME_BYTES + 1));
        assert_eq!(forbid(p).unwrap_err(), ["StreamName"]);
    }
}
