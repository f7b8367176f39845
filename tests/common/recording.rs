//! Helpers of the recording tests: a server configured for short files, templates and
//! callbacks bound through the API, real ffmpeg pushes, and ffprobe checks.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::{temp_dir, Receiver, Server};
use serde_json::{json, Value};

pub const INTERVAL_S: u64 = 2;
pub const CALLBACK_KEY: &str = "test-callback-key";

pub fn config(dir: &Path, extra: &str) -> PathBuf {
    let path = dir.join("liverec.toml");
    std::fs::write(
        &path,
        format!(
            "[testing]\nrecord_interval_seconds = {INTERVAL_S}\n[callbacks]\nretry_interval_seconds = 1\n\
             [retention]\nsweep_interval_seconds = 1\nmin_free_bytes = 16777216\n{extra}"
        ),
    )
    .unwrap();
    path
}

pub async fn start(name: &str) -> (Server, PathBuf) {
    let dir = temp_dir(name);
    let data = dir.join("data");
    let cfg = config(&dir, "");
    let server = Server::start_with(&data, None, &["--config", cfg.to_str().unwrap()]).await;
    (server, dir)
}

/// Creates a template with `create` and binds it to `localhost/live` with `bind`.
pub async fn bind(server: &Server, create: &str, bind: &str, body: Value) {
    let created = server.call(create, body).await;
    let id = created["TemplateId"].as_i64().expect("template id");
    let rule = json!({"DomainName": "localhost", "AppName": "live", "TemplateId": id});
    assert_eq!(server.code(bind, rule).await, "ok");
}

/// A callback template sending the events named by `fields` to `cb`, bound to `localhost/live`.
pub async fn callbacks(server: &Server, cb: &Receiver, fields: &[&str]) {
    let mut body = json!({"TemplateName": "cb", "CallbackKey": CALLBACK_KEY});
    for field in fields {
        body[*field] = json!(cb.url);
    }
    bind(
        server,
        "CreateLiveCallbackTemplate",
        "CreateLiveCallbackRule",
        body,
    )
    .await;
}

pub async fn configure(
    server: &Server,
    template: Value,
    flow_continue: i64,
    cb: Option<&Receiver>,
) {
    let mut body = template;
    body["TemplateName"] = json!("t");
    body["HlsSpecialParam"] = json!({"FlowContinueDuration": flow_continue});
    bind(
        server,
        "CreateLiveRecordTemplate",
        "CreateLiveRecordRule",
        body,
    )
    .await;
    if let Some(cb) = cb {
        let events = [
            "RecordNotifyUrl",
            "StreamBeginNotifyUrl",
            "StreamEndNotifyUrl",
        ];
        callbacks(server, cb, &events).await;
    }
}

pub fn all_formats() -> Value {
    json!({"FlvParam": {"Enable": 1, "RecordInterval": 60}, "HlsParam": {"Enable": 1},
        "Mp4Param": {"Enable": 1, "RecordInterval": 60}, "AacParam": {"Enable": 1, "RecordInterval": 60}})
}

/// Pushes `seconds` of H.264 (B-frames, 1 s GOP) + AAC in real time to `url`, keeping a
/// local FLV copy of exactly what was sent; returns ffmpeg's success.
pub fn push(url: &str, seconds: f64, copy: Option<&Path>, audio_only: bool) -> bool {
    let mut args: Vec<String> = vec!["-v".into(), "error".into(), "-re".into()];
    if !audio_only {
        args.extend(["-f", "lavfi", "-i", "testsrc=size=320x240:rate=25"].map(String::from));
    }
    args.extend(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100"].map(String::from));
    args.extend(["-t".to_owned(), seconds.to_string()]);
    if audio_only {
        args.extend(["-map", "0:a"].map(String::from));
    } else {
        args.extend(
            [
                "-map",
                "0:v",
                "-map",
                "1:a",
                "-c:v",
                "libx264",
                "-preset",
                "veryfast",
                "-bf",
                "2",
                "-g",
                "25",
                "-pix_fmt",
                "yuv420p",
                "-flags:v",
                "+global_header",
            ]
            .map(String::from),
        );
    }
    args.extend(["-c:a", "aac", "-b:a", "64k"].map(String::from));
    match copy {
        Some(copy) => {
            args.extend(["-f".into(), "tee".into()]);
            args.push(format!("[f=flv]{url}|[f=flv]{}", copy.display()));
        }
        None => args.extend(["-f".into(), "flv".into(), url.to_owned()]),
    }
    Command::new("ffmpeg")
        .args(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap()
        .success()
}

pub fn ffprobe(args: &[&str], file: &Path) -> String {
    let out = Command::new("ffprobe")
        .args(["-v", "error"])
        .args(args)
        .arg(file)
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap()
}

pub fn duration(file: &Path) -> f64 {
    ffprobe(
        &["-show_entries", "format=duration", "-of", "csv=p=0"],
        file,
    )
    .trim()
    .parse()
    .unwrap_or(0.0)
}

/// (codec_type, pts, dts) of every packet.
pub fn packets(file: &Path) -> Vec<(String, String, String)> {
    ffprobe(
        &[
            "-show_entries",
            "packet=codec_type,pts,dts",
            "-of",
            "csv=p=0",
        ],
        file,
    )
    .lines()
    .map(|l| {
        let f: Vec<&str> = l.split(',').collect();
        let field = |i: usize| f.get(i).copied().unwrap_or_default().to_owned();
        (field(0), field(1), field(2))
    })
    // HLS input also prints an empty line per packet for its program section.
    .filter(|(kind, _, _)| !kind.is_empty())
    .collect()
}

pub fn count_by_type(packets: &[(String, String, String)]) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for (t, _, _) in packets {
        *m.entry(t.clone()).or_default() += 1;
    }
    m
}

pub fn decodes(file: &Path) {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(file)
        .args(["-f", "null", "-"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{} does not decode", file.display());
    assert!(
        out.stderr.is_empty(),
        "{}: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The recordings of one extension in `dir`, sorted (fMP4 HLS initialization sections,
/// `RECORDINGID_init_NNNNN.mp4`, are parts of HLS recordings: left out).
pub fn files(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let init = |p: &Path| p.to_string_lossy().contains("_init_");
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == ext) && !init(p))
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
}

pub fn stream_dir(server: &Server, stream: &str) -> PathBuf {
    stream_dir_of(&server.data, stream)
}

/// The folder of `localhost/live/STREAM` under data directory `data`.
pub fn stream_dir_of(data: &Path, stream: &str) -> PathBuf {
    data.join("localhost/live").join(stream)
}

pub fn check_signature(event: &Value) {
    use md5::{Digest, Md5};
    let t = event["t"].as_i64().expect("t");
    let digest = Md5::digest(format!("{CALLBACK_KEY}{t}").as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(event["sign"], hex, "signature of {event}");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!(t > now, "t is the expiry, in the future");
}
