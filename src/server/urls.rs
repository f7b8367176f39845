//! The server's URLs of stored recordings (`/vod/…`), built where recordings are indexed
//! and answered where they are served.

/// The URL of the recording stored under `key`: `BASE/vod/` and the key's segments
/// percent-encoded (RFC 3986 §3.3: everything but unreserved characters), so a stream
/// named in any script gives a URL every client sends as is.
pub fn vod_url(base: &str, key: &str) -> String {
    use std::fmt::Write;
    let mut url = format!("{base}/vod");
    for segment in key.split('/') {
        url.push('/');
        for b in segment.bytes() {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
                url.push(char::from(b));
            } else {
                let _ = write!(url, "%{b:02X}");
            }
        }
    }
    url
}

/// `url` (absolute or a bare path) with the playback signature of its path valid until
/// `expires_s` ([`crate::playback::sign`]) appended to its query.
pub fn signed_url(url: &str, key: &str, expires_s: u64) -> String {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    let path_at = url
        .get(after_scheme..)
        .and_then(|rest| rest.find('/'))
        .map_or(url.len(), |i| after_scheme + i);
    let (before_query, _) = url.split_once('?').unwrap_or((url, ""));
    let path = before_query.get(path_at..).unwrap_or("/");
    let separator = if url.contains('?') { '&' } else { '?' };
    let query = crate::playback::sign::signed_query(key, path, expires_s);
    format!("{url}{separator}{query}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_percent_encoded() {
        assert_eq!(
            vod_url("http://h:1", "d.com/live/流 a/x+y(1).mp4"),
            "http://h:1/vod/d.com/live/%E6%B5%81%20a/x%2By%281%29.mp4"
        );
        assert_eq!(vod_url("", "d.com/a/.b/c.ts"), "/vod/d.com/a/.b/c.ts");
    }

    #[test]
    fn signed_urls_sign_their_path() {
        use crate::playback::sign::check;
        let url = signed_url("http://h:1/vod/d.com/a/s/x%20y.mp4", "k", 100);
        let (_, query) = url.split_once('?').unwrap();
        let (t, sign) = query.split_once('&').unwrap();
        let (t, sign) = (&t[2..], &sign[5..]);
        assert_eq!(t, "64");
        assert_eq!(
            check("k", "/vod/d.com/a/s/x%20y.mp4", Some(t), Some(sign), 99),
            Ok(())
        );
        let bare = signed_url("/playback/d.com/a/s.m3u8?start=1&end=2", "k", 100);
        assert!(bare.starts_with("/playback/d.com/a/s.m3u8?start=1&end=2&t=64&sign="));
        let sign = bare.rsplit_once("sign=").unwrap().1;
        assert_eq!(
            check("k", "/playback/d.com/a/s.m3u8", Some("64"), Some(sign), 0),
            Ok(())
        );
    }
}
