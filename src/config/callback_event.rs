//! Callback bodies (reference §8): the recording-file event (event_type 100, §8.3) and
//! the push begin / end events (1 / 0, §8.4), and their signature (§8.2):
//! `sign = md5(CallbackKey + t)` with `t` the notification's expiry, Unix seconds.
//!
//! Bodies are built without `t` and `sign`; [`sign_body`] adds them at each delivery
//! attempt so a retried notification carries a fresh expiry. Every body has an
//! `event_id` (liverec's addition) that stays the same across retries, for receivers
//! to deduplicate on (delivery is at-least-once).

use serde_json::{json, Map, Value};

/// Lifetime of a notification: `t` = send time + this (reference default, §8.2).
pub const NOTIFICATION_TTL_S: i64 = 600;
/// `event_type` of a finished recording file.
pub const EVENT_RECORD_FILE: i64 = 100;
/// `event_type` of a push start.
pub const EVENT_PUSH_BEGIN: i64 = 1;
/// `event_type` of a push end.
pub const EVENT_PUSH_END: i64 = 0;
/// `event_type` of a recording exception (reference §8.5).
pub const EVENT_RECORD_EXCEPTION: i64 = 341;
/// `exception.type` liverec reports when storage fails (the reference lists media
/// exceptions only: −8 … −120; this one is liverec's own).
pub const EXCEPTION_STORAGE: i64 = -200;
/// `exception.type` "no audio" (reference §8.5): the output cannot record the push's
/// audio codec (Opus into `.aac` or MPEG-TS).
pub const EXCEPTION_NO_AUDIO: i64 = -17;
/// `exception.type` "no video": the output cannot record the push's video codec.
pub const EXCEPTION_NO_VIDEO: i64 = -18;

/// What a recording-exception callback reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exception<'a> {
    /// `exception.type`.
    pub kind: i64,
    /// `exception_level`: `error` (the output stopped), `warning` (it goes on without
    /// a track).
    pub level: &'a str,
    /// `exception.desc`.
    pub desc: &'a str,
}

impl<'a> Exception<'a> {
    /// A storage error that stopped an output.
    pub fn storage(desc: &'a str) -> Self {
        Self {
            kind: EXCEPTION_STORAGE,
            level: "error",
            desc,
        }
    }
}

/// `md5(key + t)`, lower-case hex.
pub fn callback_sign(key: &str, t: i64) -> String {
    use md5::{Digest, Md5};
    let digest = Md5::digest(format!("{key}{t}").as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Adds `t` (`now_s` + [`NOTIFICATION_TTL_S`]) and `sign` to a body.
pub fn sign_body(body: &Value, key: &str, now_s: i64) -> Value {
    let t = now_s + NOTIFICATION_TTL_S;
    let mut map = body.as_object().cloned().unwrap_or_else(Map::new);
    map.insert("t".into(), json!(t));
    map.insert("sign".into(), json!(callback_sign(key, t)));
    Value::Object(map)
}

/// The stream a notification is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamRef<'a> {
    /// Push domain.
    pub domain: &'a str,
    /// AppName.
    pub app: &'a str,
    /// StreamName.
    pub stream: &'a str,
    /// The push URL's query string (without `?`).
    pub stream_param: &'a str,
}

/// A finished file, as event 100 describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordFile<'a> {
    /// File id.
    pub file_id: &'a str,
    /// `flv`, `hls`, `mp4`, `aac`.
    pub format: &'a str,
    /// Task id ("" for rules).
    pub task_id: &'a str,
    /// Template id; `None` for the default task template.
    pub template_id: Option<i64>,
    /// First frame, Unix ms.
    pub start_ms: i64,
    /// End, Unix ms.
    pub end_ms: i64,
    /// Duration, ms.
    pub duration_ms: i64,
    /// Bytes.
    pub size: u64,
    /// Download URL.
    pub url: &'a str,
    /// Stream time of the first frame, ms.
    pub media_start_ms: i64,
    /// `h264` / `h265`.
    pub video_codec: Option<&'a str>,
    /// `aac` / `mp3`.
    pub audio_codec: Option<&'a str>,
    /// `"1280x720"` or "".
    pub resolution: &'a str,
}

/// The event-100 body (without `t`/`sign`).
pub fn record_file_event(event_id: &str, stream: &StreamRef<'_>, file: &RecordFile<'_>) -> Value {
    let mut ext = Map::new();
    if let Some(codec) = file.video_codec {
        ext.insert("video_codec".into(), json!(codec));
    }
    if let Some(codec) = file.audio_codec {
        ext.insert("audio_codec".into(), json!(codec));
    }
    if !file.resolution.is_empty() {
        ext.insert("resolution".into(), json!(file.resolution));
    }
    // Task-driven recordings carry no stream_param (reference §8.3).
    let stream_param = if file.task_id.is_empty() {
        stream.stream_param
    } else {
        ""
    };
    json!({
        "event_id": event_id,
        "event_type": EVENT_RECORD_FILE,
        "appid": 0,
        "app": stream.domain,
        "appname": stream.app,
        "stream_id": stream.stream,
        "channel_id": stream.stream,
        "file_id": file.file_id,
        "record_file_id": file.file_id,
        "file_format": file.format,
        "task_id": file.task_id,
        "start_time": file.start_ms.div_euclid(1000),
        "end_time": file.end_ms.div_euclid(1000),
        "start_time_usec": file.start_ms.rem_euclid(1000) * 1000,
        "end_time_usec": file.end_ms.rem_euclid(1000) * 1000,
        "duration": (file.duration_ms + 500) / 1000,
        "file_size": file.size,
        "stream_param": stream_param,
        "video_url": file.url,
        "media_start_time": file.media_start_ms,
        "record_bps": 0,
        "record_temp_id": file.template_id.map(|id| id.to_string()).unwrap_or_default(),
        "callback_ext": Value::Object(ext).to_string(),
    })
}

/// A push begin (`end` = `None`) or end (`Some(push duration ms)`) body.
pub struct PushEvent<'a> {
    /// Id for deduplication.
    pub event_id: &'a str,
    /// The stream.
    pub stream: StreamRef<'a>,
    /// Unix seconds of the event.
    pub event_time: i64,
    /// Same for a push and its end.
    pub sequence: &'a str,
    /// Ingest address.
    pub node: &'a str,
    /// Publisher address.
    pub user_ip: &'a str,
    /// `Some(ms)` for the end event.
    pub push_duration_ms: Option<i64>,
    /// Reason text (`ok`, …).
    pub errmsg: &'a str,
    /// Picture size (0 when unknown).
    pub dimensions: (u32, u32),
}

/// The event-1 / event-0 body (without `t`/`sign`).
pub fn push_event(e: &PushEvent<'_>) -> Value {
    let mut body = json!({
        "event_id": e.event_id,
        "event_type": if e.push_duration_ms.is_some() { EVENT_PUSH_END } else { EVENT_PUSH_BEGIN },
        "appid": 0,
        "app": e.stream.domain,
        "appname": e.stream.app,
        "stream_id": e.stream.stream,
        "channel_id": e.stream.stream,
        "event_time": e.event_time,
        "sequence": e.sequence,
        "node": e.node,
        "user_ip": e.user_ip,
        "stream_param": e.stream.stream_param,
        "errcode": 0,
        "errmsg": e.errmsg,
        "set_id": 2,
        "width": e.dimensions.0,
        "height": e.dimensions.1,
    });
    if let (Some(ms), Some(map)) = (e.push_duration_ms, body.as_object_mut()) {
        map.insert("push_duration".into(), json!(ms.to_string()));
    }
    body
}

/// The event-341 body (without `t`/`sign`).
pub fn record_exception_event(
    event_id: &str,
    stream: &StreamRef<'_>,
    session_id: &str,
    format: &str,
    now_ms: i64,
    exception: Exception<'_>,
) -> Value {
    json!({
        "event_id": event_id,
        "event_type": EVENT_RECORD_EXCEPTION,
        "appid": 0,
        "app": stream.domain,
        "appname": stream.app,
        "stream_id": stream.stream,
        "session_id": session_id,
        "file_format": format,
        "timestamp": now_ms,
        "exception_level": exception.level,
        "exception": {"type": exception.kind, "occurs": 1, "desc": exception.desc},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_signature_example() {
        // Reference §8.2: key `mycallbackkey`, t 1545030873.
        assert_eq!(
            callback_sign("mycallbackkey", 1_545_030_873),
            "37fc751536de18d37f781e3ff8a5d3f2"
        );
        let signed = sign_body(&json!({"a": 1}), "mycallbackkey", 1_545_030_873 - 600);
        assert_eq!(signed["t"], 1_545_030_873);
        assert_eq!(signed["sign"], "37fc751536de18d37f781e3ff8a5d3f2");
        assert_eq!(signed["a"], 1);
    }

    #[test]
    fn record_event_fields() {
        let stream = StreamRef {
            domain: "d.com",
            app: "live",
            stream: "s",
            stream_param: "txTime=1&x=y",
        };
        let file = RecordFile {
            file_id: "f1",
            format: "mp4",
            task_id: "",
            template_id: Some(7),
            start_ms: 1_700_000_000_250,
            end_ms: 1_700_000_060_750,
            duration_ms: 60_500,
            size: 1234,
            url: "http://h/vod/x.mp4",
            media_start_ms: 40,
            video_codec: Some("h264"),
            audio_codec: Some("aac"),
            resolution: "640x360",
        };
        let body = record_file_event("e1", &stream, &file);
        assert_eq!(body["start_time"], 1_700_000_000);
        assert_eq!(body["start_time_usec"], 250_000);
        assert_eq!(body["end_time_usec"], 750_000);
        assert_eq!(body["duration"], 61);
        assert_eq!(body["record_temp_id"], "7");
        assert_eq!(body["stream_param"], "txTime=1&x=y");
        let ext: Value = serde_json::from_str(body["callback_ext"].as_str().unwrap()).unwrap();
        assert_eq!(ext["resolution"], "640x360");
        let task = RecordFile {
            task_id: "t1",
            template_id: None,
            ..file
        };
        let body = record_file_event("e2", &stream, &task);
        assert_eq!(body["stream_param"], "");
        assert_eq!(body["record_temp_id"], "");
    }
}
