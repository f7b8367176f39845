//! Signed playback URLs in the reference CDN's style (its "type D" key authentication):
//! `PATH?t=HEX_EXPIRY&sign=md5(KEY + PATH + t)`, where `t` is the Unix time, in
//! lowercase or uppercase hexadecimal, after which the URL stops working, `PATH` the
//! URL path as sent (percent-encoded, from the leading `/`), and `sign` the lowercase hex
//! MD5. Comparison takes the same time whatever the input.

use md5::{Digest, Md5};

use crate::config::push_auth::constant_time_eq;

/// Longest `t` accepted: 16 hex digits is all of `u64`.
pub const MAX_EXPIRY_HEX_LEN: usize = 16;

/// Why a URL is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    /// `t` or `sign` is missing.
    Unsigned,
    /// `t` is not hexadecimal.
    BadExpiry,
    /// `t` has passed.
    Expired,
    /// `sign` does not match.
    BadSignature,
}

/// `md5(KEY + PATH + t)` in lowercase hex.
pub fn url_signature(key: &str, path: &str, t: &str) -> String {
    let mut md5 = Md5::new();
    md5.update(key.as_bytes());
    md5.update(path.as_bytes());
    md5.update(t.as_bytes());
    md5.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// The query that signs `path` until `expires_s` (Unix seconds): `t=…&sign=…`.
pub fn signed_query(key: &str, path: &str, expires_s: u64) -> String {
    let t = format!("{expires_s:x}");
    let sign = url_signature(key, path, &t);
    format!("t={t}&sign={sign}")
}

/// Checks a request for `path` carrying `t` and `sign` at `now_s`.
pub fn check(
    key: &str,
    path: &str,
    t: Option<&str>,
    sign: Option<&str>,
    now_s: u64,
) -> Result<(), Denied> {
    let (Some(t), Some(sign)) = (t, sign) else {
        return Err(Denied::Unsigned);
    };
    if t.is_empty() || t.len() > MAX_EXPIRY_HEX_LEN {
        return Err(Denied::BadExpiry);
    }
    let expires = u64::from_str_radix(t, 16).map_err(|_| Denied::BadExpiry)?;
    if !constant_time_eq(&url_signature(key, path, t), &sign.to_ascii_lowercase()) {
        return Err(Denied::BadSignature);
    }
    if expires < now_s {
        return Err(Denied::Expired);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_and_check() {
        let path = "/vod/d.com/live/cam/a%20b.mp4";
        let q = signed_query("k3y", path, 0x6000_0000);
        assert_eq!(
            q,
            format!("t=60000000&sign={}", url_signature("k3y", path, "60000000"))
        );
        let sign = url_signature("k3y", path, "60000000");
        let at = |now| check("k3y", path, Some("60000000"), Some(&sign), now);
        assert_eq!(at(0x6000_0000), Ok(()));
        assert_eq!(at(0x6000_0001), Err(Denied::Expired));
        let upper = sign.to_ascii_uppercase();
        assert_eq!(
            check("k3y", path, Some("60000000"), Some(&upper), 0),
            Ok(())
        );
        let table = [
            (Some("60000001"), Some(sign.as_str()), Denied::BadSignature),
            (Some("60000000"), None, Denied::Unsigned),
            (None, Some(sign.as_str()), Denied::Unsigned),
            (Some("zz"), Some(sign.as_str()), Denied::BadExpiry),
            (
                Some("11111111111111111"),
                Some(sign.as_str()),
                Denied::BadExpiry,
            ),
        ];
        for (t, s, want) in table {
            assert_eq!(check("k3y", path, t, s, 0), Err(want), "{t:?} {s:?}");
        }
        assert_eq!(
            check(
                "k3y",
                "/vod/d.com/live/cam/other.mp4",
                Some("60000000"),
                Some(&sign),
                0
            ),
            Err(Denied::BadSignature)
        );
        assert_eq!(
            check("other", path, Some("60000000"), Some(&sign), 0),
            Err(Denied::BadSignature)
        );
    }
}
