//! TC3-HMAC-SHA256 request signatures (reference §1.3), verified over the raw body bytes.
//!
//! The canonical request is rebuilt from what arrived — method, the raw query string,
//! the signed headers' values, and SHA-256 of the exact body (or of `UNSIGNED-PAYLOAD`
//! when the client says so) — and signed with the key of the `Credential=` id. Checks,
//! in order: a well-formed `Authorization` (`AuthFailure.InvalidAuthorization`), a known
//! SecretId (`AuthFailure.SecretIdNotFound`), `X-TC-Timestamp` within 5 minutes of now
//! (`AuthFailure.SignatureExpire`), the date in the credential scope matching the
//! timestamp, and the signature (`AuthFailure.SignatureFailure`).

use crate::config::problem::ErrorCode;
use crate::config::push_auth::constant_time_eq;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::server::settings::Credential;

/// Largest accepted clock difference between client and server, seconds.
pub const MAX_SKEW_S: i64 = 300;

/// The parts of a request the signature covers.
#[derive(Clone)]
pub struct SignedParts<'a> {
    /// `GET` or `POST`.
    pub method: &'a str,
    /// Raw query string ("" for POST).
    pub query: &'a str,
    /// Looks up a header value by lowercase name.
    pub header: &'a dyn Fn(&str) -> Option<String>,
    /// The raw body.
    pub payload: &'a [u8],
}

/// Why a signature is refused; the variant names give the reference codes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// Malformed or missing Authorization / timestamp.
    #[error("{0}")]
    InvalidAuthorization(String),
    /// Unknown SecretId.
    #[error("SecretId {0:?} is not known to this server")]
    SecretIdNotFound(String),
    /// Timestamp too far from now.
    #[error("the request timestamp {timestamp} is more than {MAX_SKEW_S} s from the server's time {now}")]
    SignatureExpire {
        /// Given.
        timestamp: i64,
        /// Server time.
        now: i64,
    },
    /// Signature mismatch.
    #[error("the signature does not match (check the SecretKey, Host, Content-Type and body)")]
    SignatureFailure,
}

impl AuthError {
    /// The reference error code.
    pub fn code(&self) -> ErrorCode {
        match self {
            AuthError::InvalidAuthorization(_) => ErrorCode::InvalidAuthorization,
            AuthError::SecretIdNotFound(_) => ErrorCode::SecretIdNotFound,
            AuthError::SignatureExpire { .. } => ErrorCode::SignatureExpire,
            AuthError::SignatureFailure => ErrorCode::SignatureFailure,
        }
    }
}

struct Authorization<'a> {
    secret_id: &'a str,
    date: &'a str,
    service: &'a str,
    signed_headers: &'a str,
    signature: &'a str,
}

fn parse_authorization(value: &str) -> Option<Authorization<'_>> {
    let rest = value.strip_prefix("TC3-HMAC-SHA256 ")?;
    let mut credential = None;
    let mut signed_headers = None;
    let mut signature = None;
    for part in rest.split(',') {
        let (key, value) = part.trim().split_once('=')?;
        match key {
            "Credential" => credential = Some(value),
            "SignedHeaders" => signed_headers = Some(value),
            "Signature" => signature = Some(value),
            _ => return None,
        }
    }
    let mut scope = credential?.split('/');
    let auth = Authorization {
        secret_id: scope.next()?,
        date: scope.next()?,
        service: scope.next()?,
        signed_headers: signed_headers?,
        signature: signature?,
    };
    (scope.next()? == "tc3_request" && scope.next().is_none()).then_some(auth)
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

fn hmac(key: &[u8], message: &[u8]) -> Vec<u8> {
    match Hmac::<Sha256>::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(message);
            mac.finalize().into_bytes().to_vec()
        }
        Err(_) => Vec::new(),
    }
}

/// The UTC date `YYYY-MM-DD` of Unix seconds.
pub fn utc_date(unix_s: i64) -> String {
    crate::formats::hls::datetime::encode_date_time(unix_s.saturating_mul(1000))
        .get(..10)
        .unwrap_or("")
        .to_owned()
}

/// The signature a client with `secret_key` computes (reference §1.3).
pub fn signature(
    parts: &SignedParts<'_>,
    signed_headers: &str,
    timestamp: &str,
    date: &str,
    service: &str,
    secret_key: &str,
) -> String {
    let payload_hash = match (parts.header)("x-tc-content-sha256").as_deref() {
        Some("UNSIGNED-PAYLOAD") => hex(&Sha256::digest(b"UNSIGNED-PAYLOAD")),
        _ => hex(&Sha256::digest(parts.payload)),
    };
    let canonical_headers: String = signed_headers
        .split(';')
        .map(|name| {
            format!(
                "{name}:{}\n",
                (parts.header)(name)
                    .unwrap_or_default()
                    .trim()
                    .to_ascii_lowercase()
            )
        })
        .collect();
    let canonical_request = format!(
        "{}\n/\n{}\n{canonical_headers}\n{signed_headers}\n{payload_hash}",
        parts.method, parts.query
    );
    let scope = format!("{date}/{service}/tc3_request");
    let string_to_sign = format!(
        "TC3-HMAC-SHA256\n{timestamp}\n{scope}\n{}",
        hex(&Sha256::digest(canonical_request.as_bytes()))
    );
    let k_date = hmac(format!("TC3{secret_key}").as_bytes(), date.as_bytes());
    let k_service = hmac(&k_date, service.as_bytes());
    let k_signing = hmac(&k_service, b"tc3_request");
    hex(&hmac(&k_signing, string_to_sign.as_bytes()))
}

/// Verifies a signed request at `now`; returns the SecretId that signed it.
pub fn verify(
    parts: &SignedParts<'_>,
    credentials: &[Credential],
    now: i64,
) -> Result<String, AuthError> {
    let header = (parts.header)("authorization").unwrap_or_default();
    let auth = parse_authorization(&header).ok_or_else(|| {
        AuthError::InvalidAuthorization(
            "the Authorization header is not a TC3-HMAC-SHA256 authorization".into(),
        )
    })?;
    let timestamp_text = (parts.header)("x-tc-timestamp")
        .ok_or_else(|| AuthError::InvalidAuthorization("X-TC-Timestamp is missing".into()))?;
    let timestamp: i64 = timestamp_text.trim().parse().map_err(|_| {
        AuthError::InvalidAuthorization("X-TC-Timestamp is not Unix seconds".into())
    })?;
    let credential = credentials
        .iter()
        .find(|c| c.secret_id == auth.secret_id)
        .ok_or_else(|| AuthError::SecretIdNotFound(auth.secret_id.to_owned()))?;
    if now.abs_diff(timestamp) > MAX_SKEW_S.unsigned_abs() {
        return Err(AuthError::SignatureExpire { timestamp, now });
    }
    if auth.date != utc_date(timestamp) {
        return Err(AuthError::InvalidAuthorization(format!(
            "the credential date {} is not the UTC date of X-TC-Timestamp",
            auth.date
        )));
    }
    let given = auth.signature.to_ascii_lowercase();
    let matches = |host: Option<&str>| {
        let header = |name: &str| match (name, host) {
            ("host", Some(host)) => Some(host.to_owned()),
            _ => (parts.header)(name),
        };
        let candidate = SignedParts {
            header: &header,
            ..parts.clone()
        };
        let expected = signature(
            &candidate,
            auth.signed_headers,
            timestamp_text.trim(),
            auth.date,
            auth.service,
            &credential.secret_key,
        );
        constant_time_eq(&expected, &given)
    };
    // The host as sent, or without its port: some official SDKs (Node.js) sign the
    // host name alone while sending `Host: name:port` (the real service has no port).
    let host = (parts.header)("host").unwrap_or_default();
    if matches(None) || host_without_port(&host).is_some_and(|bare| matches(Some(bare))) {
        Ok(credential.secret_id.clone())
    } else {
        Err(AuthError::SignatureFailure)
    }
}

/// `name` of a `name:port` Host header (`[v6]:port` too); `None` when it has no port.
pub fn host_without_port(host: &str) -> Option<&str> {
    let (name, port) = host.rsplit_once(':')?;
    let bracketed = name.starts_with('[') && name.ends_with(']');
    let plain = !name.contains(':');
    (!port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) && (bracketed || plain))
        .then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE";
    const KEY: &str = "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE";
    const SIG: &str = "fb86cb6e8d9012baa126ab17ba71df9bce48ccb2ee580759de1e93dcd1d24f12";

    fn headers(authorization: String, timestamp: &'static str) -> impl Fn(&str) -> Option<String> {
        move |name: &str| match name {
            "content-type" => Some("application/json".into()),
            "host" => Some("127.0.0.1:18081".into()),
            "authorization" => Some(authorization.clone()),
            "x-tc-timestamp" => Some(timestamp.into()),
            _ => None,
        }
    }

    fn creds() -> Vec<Credential> {
        vec![Credential {
            secret_id: ID.into(),
            secret_key: KEY.into(),
        }]
    }

    fn auth(signature: &str) -> String {
        format!("TC3-HMAC-SHA256 Credential={ID}/2023-11-14/live/tc3_request, SignedHeaders=content-type;host, Signature={signature}")
    }

    #[test]
    fn reference_test_vector() {
        let h = headers(auth(SIG), "1700000000");
        let parts = SignedParts {
            method: "POST",
            query: "",
            header: &h,
            payload: br#"{"TaskId": "abc"}"#,
        };
        assert_eq!(
            signature(
                &parts,
                "content-type;host",
                "1700000000",
                "2023-11-14",
                "live",
                KEY
            ),
            SIG
        );
        assert_eq!(verify(&parts, &creds(), 1_700_000_000), Ok(ID.to_owned()));
        assert_eq!(verify(&parts, &creds(), 1_700_000_300), Ok(ID.to_owned()));
    }

    #[test]
    fn refusals() {
        let body = br#"{"TaskId": "abc"}"#;
        let check = |authorization: String, timestamp: &'static str, payload: &[u8], now: i64| {
            let h = headers(authorization, timestamp);
            let parts = SignedParts {
                method: "POST",
                query: "",
                header: &h,
                payload,
            };
            verify(&parts, &creds(), now).map_err(|e| e.code())
        };
        use ErrorCode as E;
        const T: i64 = 1_700_000_000;
        let ts = "1700000000";
        let other_body = br#"{"TaskId":"abc"}"#;
        let other_day = auth(SIG).replace("2023-11-14", "2023-11-15");
        let cases: [(String, &'static str, &[u8], i64, ErrorCode); 7] = [
            (auth(SIG), ts, body, T + 301, E::SignatureExpire),
            (auth(SIG), ts, other_body, T, E::SignatureFailure),
            (
                auth(&SIG.replace('f', "e")),
                ts,
                body,
                T,
                E::SignatureFailure,
            ),
            (
                auth(SIG).replace(ID, "AKIDother"),
                ts,
                body,
                T,
                E::SecretIdNotFound,
            ),
            ("Bearer x".into(), ts, body, T, E::InvalidAuthorization),
            (other_day, ts, body, T, E::InvalidAuthorization),
            (auth(SIG), "soon", body, T, E::InvalidAuthorization),
        ];
        for (authorization, timestamp, payload, now, expected) in cases {
            let shown = format!("{authorization} {timestamp} {now}");
            assert_eq!(
                check(authorization, timestamp, payload, now),
                Err(expected),
                "{shown}"
            );
        }
    }

    #[test]
    fn host_case_is_kept_as_sent() {
        let body = br#"{"TaskId": "abc"}"#;
        let mixed = |authorization: String| {
            move |name: &str| match name {
                "content-type" => Some("application/json".into()),
                "host" => Some("Recorder.LAN:18081".into()),
                "authorization" => Some(authorization.clone()),
                "x-tc-timestamp" => Some("1700000000".into()),
                _ => None,
            }
        };
        let unsigned = mixed(String::new());
        let parts = SignedParts {
            method: "POST",
            query: "",
            header: &unsigned,
            payload: body,
        };
        let sig = signature(
            &parts,
            "content-type;host",
            "1700000000",
            "2023-11-14",
            "live",
            KEY,
        );
        let h = mixed(auth(&sig));
        let parts = SignedParts {
            method: "POST",
            query: "",
            header: &h,
            payload: body,
        };
        assert_eq!(verify(&parts, &creds(), 1_700_000_000), Ok(ID.to_owned()));
    }

    /// The Node.js SDK signs `host:127.0.0.1` and sends `Host: 127.0.0.1:18081`: the
    /// host without its port is accepted, any other host is not.
    #[test]
    fn a_signature_over_the_host_without_its_port_is_accepted() {
        let body = br#"{"TaskId": "abc"}"#;
        let signed_over = |host: &'static str| {
            let h = move |name: &str| match name {
                "content-type" => Some("application/json".into()),
                "host" => Some(host.to_owned()),
                _ => None,
            };
            let parts = SignedParts {
                method: "POST",
                query: "",
                header: &h,
                payload: body,
            };
            signature(
                &parts,
                "content-type;host",
                "1700000000",
                "2023-11-14",
                "live",
                KEY,
            )
        };
        let check = |sig: String| {
            let h = headers(auth(&sig), "1700000000");
            let parts = SignedParts {
                method: "POST",
                query: "",
                header: &h,
                payload: body,
            };
            verify(&parts, &creds(), 1_700_000_000).map_err(|e| e.code())
        };
        assert_eq!(check(signed_over("127.0.0.1")), Ok(ID.to_owned()));
        assert_eq!(check(signed_over("127.0.0.1:18081")), Ok(ID.to_owned()));
        for other in [
            "127.0.0.1:18082",
            "127.0.0.2",
            "live.tencentcloudapi.com",
            "",
        ] {
            assert_eq!(
                check(signed_over(other)),
                Err(ErrorCode::SignatureFailure),
                "{other}"
            );
        }
        assert_eq!(host_without_port("[::1]:80"), Some("[::1]"));
        assert_eq!(host_without_port("::1"), None);
        assert_eq!(host_without_port("a.com"), None);
        assert_eq!(host_without_port("a.com:"), None);
    }

    #[test]
    fn utc_dates() {
        assert_eq!(utc_date(1_700_000_000), "2023-11-14");
        assert_eq!(utc_date(0), "1970-01-01");
    }
}
