//! Push authentication: `txSecret` / `txTime` on the push URL (reference §6).
//!
//! `txSecret = lowercase hex MD5(KEY + StreamName + txTime)`, where `txTime` is the
//! exact text of the URL parameter and KEY the domain's master or backup key. The push
//! is accepted until `txTime + AuthDelta`.
//!
//! `txTime` is normally hexadecimal; the reference says decimal is accepted too but not
//! how the two are told apart. Rule chosen here ([`parse_tx_time`]): up to 8 digits is
//! hex (any 8-hex-digit value is before 2106), 9–10 decimal digits is decimal (a 10-digit
//! hex time would lie past the year 4000, so no real hex txTime is misread). Anything
//! else is invalid. The secret comparison takes the same time whatever the input.

use md5::{Digest, Md5};

use super::problem::ConfigError;

/// Longest `txSecret` considered (an MD5 in hex is 32).
pub const TX_SECRET_HEX_LEN: usize = 32;

/// Computes the `txSecret` for a push URL.
pub fn push_secret(key: &str, stream_name: &str, tx_time: &str) -> String {
    let mut md5 = Md5::new();
    md5.update(key.as_bytes());
    md5.update(stream_name.as_bytes());
    md5.update(tx_time.as_bytes());
    hex_lower(&md5.finalize())
}

fn hex_lower(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// Reads a `txTime` (see the module doc for hex versus decimal).
pub fn parse_tx_time(tx_time: &str) -> Option<i64> {
    let len = tx_time.len();
    if (1..=8).contains(&len) && tx_time.bytes().all(|b| b.is_ascii_hexdigit()) {
        return i64::from_str_radix(tx_time, 16).ok();
    }
    if (9..=10).contains(&len) && tx_time.bytes().all(|b| b.is_ascii_digit()) {
        return tx_time.parse().ok();
    }
    None
}

/// What a push presents and what the domain allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushCredentials<'a> {
    /// The domain's keys (master, backup); empty keys are ignored.
    pub keys: &'a [String],
    /// Extra validity after txTime, seconds.
    pub auth_delta_s: i64,
    /// The stream name being pushed.
    pub stream_name: &'a str,
    /// `txSecret` from the URL.
    pub tx_secret: &'a str,
    /// `txTime` from the URL.
    pub tx_time: &'a str,
}

/// Which key a push was signed with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyIndex(pub usize);

/// Checks a push's secret and expiry at `now` (Unix seconds).
pub fn verify_push(creds: &PushCredentials<'_>, now: i64) -> Result<KeyIndex, ConfigError> {
    if creds.tx_secret.is_empty() || creds.tx_time.is_empty() {
        return Err(ConfigError::PushAuthMissing);
    }
    let tx_time = parse_tx_time(creds.tx_time).ok_or_else(|| ConfigError::InvalidTxTime {
        tx_time: creds.tx_time.chars().take(16).collect(),
    })?;
    let given = creds.tx_secret.to_ascii_lowercase();
    let matched = creds
        .keys
        .iter()
        .enumerate()
        .filter(|(_, key)| !key.is_empty())
        .map(|(i, key)| {
            (
                i,
                constant_time_eq(&push_secret(key, creds.stream_name, creds.tx_time), &given),
            )
        })
        .fold(None, |found, (i, eq)| found.or(eq.then_some(KeyIndex(i))));
    let index = matched.ok_or(ConfigError::PushSignatureFailure)?;
    let expires_at = tx_time.saturating_add(creds.auth_delta_s.max(0));
    if now > expires_at {
        return Err(ConfigError::PushSignatureExpire { expires_at, now });
    }
    Ok(index)
}

/// Equality of two secrets in a time that does not depend on where they differ.
pub(crate) fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "e12c46f2612d5106e2034781ab261ca3";

    #[test]
    fn reference_worked_example() {
        assert_eq!(
            push_secret(KEY, "test", "5C271099"),
            "f85a2ab363fe4deaffef9754d79da6fe"
        );
    }

    #[test]
    fn tx_time_forms() {
        let cases = [
            ("5C271099", Some(0x5C27_1099)),
            ("5c271099", Some(0x5C27_1099)),
            ("1", Some(1)),
            ("69123456", Some(0x6912_3456)),
            ("1545000000", Some(1_545_000_000)),
            ("154500000", Some(154_500_000)),
            ("", None),
            ("5C27109Z", None),
            ("15450000000", None),
            ("5C2710990", None),
            ("-1", None),
            ("+5C27109", None),
        ];
        for (text, want) in cases {
            assert_eq!(parse_tx_time(text), want, "{text:?}");
        }
    }

    fn creds<'a>(keys: &'a [String], secret: &'a str, time: &'a str) -> PushCredentials<'a> {
        PushCredentials {
            keys,
            auth_delta_s: 0,
            stream_name: "test",
            tx_secret: secret,
            tx_time: time,
        }
    }

    #[test]
    fn verify_table() {
        let keys = vec![KEY.to_owned(), "backup".to_owned()];
        let good = push_secret(KEY, "test", "5C271099");
        let backup = push_secret("backup", "test", "5C271099");
        let expiry = 0x5C27_1099;
        assert_eq!(
            verify_push(&creds(&keys, &good, "5C271099"), expiry),
            Ok(KeyIndex(0))
        );
        assert_eq!(
            verify_push(&creds(&keys, &good.to_uppercase(), "5C271099"), expiry),
            Ok(KeyIndex(0))
        );
        assert_eq!(
            verify_push(&creds(&keys, &backup, "5C271099"), expiry),
            Ok(KeyIndex(1))
        );
        assert_eq!(
            verify_push(&creds(&keys, &good, "5C271099"), expiry + 1),
            Err(ConfigError::PushSignatureExpire {
                expires_at: expiry,
                now: expiry + 1
            })
        );
        let mut with_delta = creds(&keys, &good, "5C271099");
        with_delta.auth_delta_s = 60;
        assert!(verify_push(&with_delta, expiry + 60).is_ok());
        assert!(verify_push(&with_delta, expiry + 61).is_err());
        // The secret covers the exact txTime text: lower case is another URL.
        assert_eq!(
            verify_push(&creds(&keys, &good, "5c271099"), 0),
            Err(ConfigError::PushSignatureFailure)
        );
        let mut other_stream = creds(&keys, &good, "5C271099");
        other_stream.stream_name = "test2";
        assert_eq!(
            verify_push(&other_stream, 0),
            Err(ConfigError::PushSignatureFailure)
        );
        assert_eq!(
            verify_push(&creds(&keys, "", "5C271099"), 0),
            Err(ConfigError::PushAuthMissing)
        );
        assert_eq!(
            verify_push(&creds(&keys, &good, ""), 0),
            Err(ConfigError::PushAuthMissing)
        );
        assert!(matches!(
            verify_push(&creds(&keys, &good, "zz"), 0),
            Err(ConfigError::InvalidTxTime { .. })
        ));
        let blank = vec![String::new()];
        let blank_secret = push_secret("", "test", "5C271099");
        assert_eq!(
            verify_push(&creds(&blank, &blank_secret, "5C271099"), 0),
            Err(ConfigError::PushSignatureFailure)
        );
    }
}

/// Longest push key, bytes.
pub const MAX_PUSH_KEY_BYTES: usize = 128;
/// Largest `AuthDelta`, seconds (10 years).
pub const MAX_AUTH_DELTA_S: i64 = 10 * 365 * 24 * 3600;

/// A domain's push authentication settings (`PushAuthKeyInfo`).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct PushAuthKey {
    /// Push domain.
    pub domain_name: String,
    /// 1: pushes must be signed.
    pub enable: i64,
    /// Master key.
    pub master_auth_key: String,
    /// Backup key.
    pub backup_auth_key: String,
    /// Extra validity after txTime, seconds.
    pub auth_delta: i64,
}

impl PushAuthKey {
    /// The keys to try, master first.
    pub fn keys(&self) -> Vec<String> {
        vec![self.master_auth_key.clone(), self.backup_auth_key.clone()]
    }
}

/// Applies a ModifyLivePushAuthKey body to `current` (omitted fields unchanged).
pub fn modify_push_auth_key(
    current: &PushAuthKey,
    input: &serde_json::Value,
) -> Result<PushAuthKey, Vec<super::problem::Problem>> {
    use super::json::Fields;
    use super::problem::ErrorCode;
    let mut problems = Vec::new();
    let mut next = current.clone();
    if let Some(mut fields) = Fields::open(input, "", &mut problems) {
        if let Some(domain) = fields.required_string("DomainName") {
            next.domain_name = domain.to_owned();
        }
        if let Some(enable) = fields.int_in("Enable", 0..=1) {
            next.enable = enable;
        }
        for (name, slot) in [
            ("MasterAuthKey", &mut next.master_auth_key),
            ("BackupAuthKey", &mut next.backup_auth_key),
        ] {
            let Some(key) = fields.string(name) else {
                continue;
            };
            if key.len() > MAX_PUSH_KEY_BYTES || !key.bytes().all(|b| b.is_ascii_alphanumeric()) {
                let message =
                    format!("{name} must be at most {MAX_PUSH_KEY_BYTES} letters and digits");
                fields.problem(ErrorCode::InvalidParameterValue, name, message);
            }
            *slot = key.to_owned();
        }
        if let Some(delta) = fields.int_in("AuthDelta", 0..=MAX_AUTH_DELTA_S) {
            next.auth_delta = delta;
        }
        fields.finish();
    }
    if next.enable == 1
        && next.master_auth_key.is_empty()
        && next.backup_auth_key.is_empty()
        && problems.is_empty()
    {
        problems.push(super::problem::Problem::new(
            ErrorCode::MissingParameter,
            "MasterAuthKey",
            "push authentication cannot be enabled without a key",
        ));
    }
    if problems.is_empty() {
        Ok(next)
    } else {
        Err(problems)
    }
}
