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
}
