//! The push URL (reference §6): `rtmp://DOMAIN/AppName/StreamName?txSecret=…&txTime=…`.
//!
//! RTMP splits it in two: the `connect` command's `tcUrl` (`rtmp://host[:port]/app`) and
//! the `publish` command's stream key (`StreamName?query`). The push domain is the
//! tcUrl's host — unless that is an IP address or `localhost`, in which case a
//! `domain=` query parameter names it, or else the configured default domain.

use super::rule::is_valid_domain;

/// Longest stream key (name and query) accepted from `publish`.
pub const MAX_STREAM_KEY_BYTES: usize = 2048;

/// The host of a tcUrl (`rtmp://host:port/app…`), lower case, without port or brackets.
pub fn tc_url_host(tc_url: &str) -> Option<String> {
    let rest = tc_url.split_once("://")?.1;
    let authority = rest.split(['/', '?']).next()?;
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if let Some(v6) = host_port.strip_prefix('[') {
        v6.split(']').next()?
    } else {
        host_port.split(':').next()?
    };
    (!host.is_empty()).then(|| host.to_ascii_lowercase())
}

/// Splits a stream key into the stream name and the query string (without `?`).
pub fn split_stream_key(key: &str) -> (&str, &str) {
    key.split_once('?').unwrap_or((key, ""))
}

/// The first value of `name` in a query string (`+` and `%XX` decoded).
pub fn query_param(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == name).then(|| percent_decode(v))
    })
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (b, hex) {
            (b'%', Some(v)) => {
                out.push(v);
                i += 3;
            }
            (b'+', _) => {
                out.push(b' ');
                i += 1;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn is_address(host: &str) -> bool {
    host == "localhost" || host.parse::<std::net::IpAddr>().is_ok()
}

/// The push domain; see the module doc. `None` when no valid domain can be named.
/// A missing or malformed tcUrl counts as an address push.
pub fn push_domain(tc_url: &str, query: &str, default_domain: &str) -> Option<String> {
    // No usable tcUrl: treat it like an address push.
    let host = tc_url_host(tc_url).unwrap_or_else(|| "localhost".to_owned());
    let domain = if is_address(&host) {
        query_param(query, "domain")
            .filter(|d| !d.is_empty())
            .unwrap_or_else(|| default_domain.to_owned())
    } else {
        host
    };
    let domain = domain.to_ascii_lowercase();
    is_valid_domain(&domain).then_some(domain)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        assert_eq!(
            tc_url_host("rtmp://Push.Example.com:1935/live").as_deref(),
            Some("push.example.com")
        );
        assert_eq!(
            tc_url_host("rtmp://[::1]:1935/live").as_deref(),
            Some("::1")
        );
        assert_eq!(tc_url_host("rtmp://u:p@h/live").as_deref(), Some("h"));
        assert_eq!(tc_url_host("no scheme"), None);
        assert_eq!(tc_url_host("rtmp:///live"), None);
    }

    #[test]
    fn domains() {
        assert_eq!(
            push_domain("rtmp://push.example.com/live", "domain=other.com", "d.com").as_deref(),
            Some("push.example.com")
        );
        assert_eq!(
            push_domain(
                "rtmp://127.0.0.1:1935/live",
                "txTime=1&domain=My.Com",
                "d.com"
            )
            .as_deref(),
            Some("my.com")
        );
        assert_eq!(
            push_domain("rtmp://localhost/live", "", "d.com").as_deref(),
            Some("d.com")
        );
        assert_eq!(
            push_domain("rtmp://127.0.0.1/live", "domain=a_b", "d.com"),
            None
        );
    }

    #[test]
    fn stream_keys_and_params() {
        assert_eq!(
            split_stream_key("cam?txSecret=ab&txTime=5C27"),
            ("cam", "txSecret=ab&txTime=5C27")
        );
        assert_eq!(split_stream_key("cam"), ("cam", ""));
        assert_eq!(query_param("a=1&b=x%20y+z&a=2", "a").as_deref(), Some("1"));
        assert_eq!(query_param("a=1&b=x%20y+z", "b").as_deref(), Some("x y z"));
        assert_eq!(query_param("a=1", "c"), None);
        assert_eq!(query_param("b=%zz%4", "b").as_deref(), Some("%zz%4"));
    }
}
