//! SRT's `streamid`: which stream a caller publishes (pure).
//!
//! Accepted forms:
//! - the SRT access-control syntax (Haivision's "SRT Access Control Guidelines"):
//!   `#!::r=APP/STREAM[?QUERY],m=publish[,h=HOST][,KEY=VALUE…]` — `r` the resource,
//!   `m` the mode, `h` the host naming the push domain (as an RTMP tcUrl's host does);
//!   the push key rides in the resource's query
//!   (`r=live/cam?txSecret=…&txTime=…`, the form the reference's SRT push URL uses);
//!   other keys (`u`, `s`, `t`) are ignored. Without `m` the mode is `request` (the
//!   guidelines' default), which liverec refuses: it records, it does not play;
//! - MediaMTX's `publish:APP/STREAM[?QUERY]` (`read:` is refused alike);
//! - a bare `APP/STREAM[?QUERY]`: a publish.

/// Longest stream id SRT carries.
pub const MAX_SRT_STREAM_ID_BYTES: usize = 512;

/// What a caller's stream id asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SrtPublish {
    /// `h=`: the host naming the push domain.
    pub host: Option<String>,
    /// AppName.
    pub app: String,
    /// StreamName and its query (`cam?txSecret=…`), as an RTMP `publish` carries it.
    pub stream_key: String,
}

/// Why a stream id is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SrtStreamIdError {
    /// Not a publish (`m=request`, `m=bidirectional`, `read:`, no mode).
    #[error("mode {0:?}: liverec only records (use m=publish)")]
    Mode(String),
    /// No `APP/STREAM` resource, or a malformed one.
    #[error("stream id {0:?} names no APP/STREAM")]
    Resource(String),
    /// Over [`MAX_SRT_STREAM_ID_BYTES`].
    #[error("stream id over {MAX_SRT_STREAM_ID_BYTES} bytes")]
    TooLong,
}

/// Parses a caller's stream id; see the module doc.
pub fn parse_srt_stream_id(text: &str) -> Result<SrtPublish, SrtStreamIdError> {
    if text.len() > MAX_SRT_STREAM_ID_BYTES {
        return Err(SrtStreamIdError::TooLong);
    }
    if let Some(pairs) = text.strip_prefix("#!::") {
        let (mut resource, mut mode, mut host) = (None, None, None);
        for pair in pairs.split(',') {
            match pair.split_once('=') {
                Some(("r", v)) => resource = Some(v),
                Some(("m", v)) => mode = Some(v),
                Some(("h", v)) if !v.is_empty() => host = Some(v.to_ascii_lowercase()),
                _ => {}
            }
        }
        let mode = mode.unwrap_or("request");
        if mode != "publish" {
            return Err(SrtStreamIdError::Mode(mode.to_owned()));
        }
        return resource_of(resource.unwrap_or_default(), host);
    }
    if let Some(resource) = text.strip_prefix("publish:") {
        return resource_of(resource, None);
    }
    if let Some((mode, _)) = text.split_once(':').filter(|(m, _)| !m.contains('/')) {
        return Err(SrtStreamIdError::Mode(mode.to_owned()));
    }
    resource_of(text, None)
}

fn resource_of(resource: &str, host: Option<String>) -> Result<SrtPublish, SrtStreamIdError> {
    let (path, query) = resource.split_once('?').unwrap_or((resource, ""));
    let Some((app, stream)) = path.trim_start_matches('/').split_once('/') else {
        return Err(SrtStreamIdError::Resource(resource.to_owned()));
    };
    if app.is_empty() || stream.is_empty() {
        return Err(SrtStreamIdError::Resource(resource.to_owned()));
    }
    let stream_key = if query.is_empty() {
        stream.to_owned()
    } else {
        format!("{stream}?{query}")
    };
    Ok(SrtPublish {
        host,
        app: app.to_owned(),
        stream_key,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn publish(host: Option<&str>, app: &str, key: &str) -> Result<SrtPublish, SrtStreamIdError> {
        Ok(SrtPublish {
            host: host.map(str::to_owned),
            app: app.to_owned(),
            stream_key: key.to_owned(),
        })
    }

    #[test]
    fn access_control_syntax() {
        assert_eq!(
            parse_srt_stream_id("#!::r=live/cam,m=publish"),
            publish(None, "live", "cam")
        );
        assert_eq!(
            parse_srt_stream_id(
                "#!::h=Push.Example.com,r=live/cam?txSecret=ab&txTime=5C27,m=publish,u=me"
            ),
            publish(
                Some("push.example.com"),
                "live",
                "cam?txSecret=ab&txTime=5C27"
            )
        );
        assert_eq!(
            parse_srt_stream_id("#!::r=live/cam"),
            Err(SrtStreamIdError::Mode("request".into()))
        );
        assert_eq!(
            parse_srt_stream_id("#!::r=live/cam,m=request"),
            Err(SrtStreamIdError::Mode("request".into()))
        );
        assert!(matches!(
            parse_srt_stream_id("#!::m=publish"),
            Err(SrtStreamIdError::Resource(_))
        ));
        assert!(matches!(
            parse_srt_stream_id("#!::r=live,m=publish"),
            Err(SrtStreamIdError::Resource(_))
        ));
    }

    #[test]
    fn mediamtx_and_bare_forms() {
        assert_eq!(
            parse_srt_stream_id("publish:live/cam?txTime=1"),
            publish(None, "live", "cam?txTime=1")
        );
        assert_eq!(
            parse_srt_stream_id("live/cam"),
            publish(None, "live", "cam")
        );
        assert_eq!(
            parse_srt_stream_id("read:live/cam"),
            Err(SrtStreamIdError::Mode("read".into()))
        );
        assert!(parse_srt_stream_id("").is_err());
        assert!(parse_srt_stream_id("/cam").is_err());
        assert_eq!(
            parse_srt_stream_id(&"a/".repeat(300)),
            Err(SrtStreamIdError::TooLong)
        );
    }
}
