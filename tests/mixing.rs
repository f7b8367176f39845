//! Mixed-stream recording (reference §7): two real ffmpeg pushes — A, a red picture with
//! a 440 Hz tone, and B, a blue one with 1 kHz — composed by `CreateCommonMixStream`
//! into C, recorded by the rules, checked with ffprobe and decoded pixels and sound.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::recording::{decodes, duration, files, stream_dir};
use common::{receiver, temp_dir, Receiver, Server};
use serde_json::{json, Value};

/// The mixes run one at a time: each is three real-time encoders on a small machine.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const WIDTH: usize = 320;
const HEIGHT: usize = 240;

/// A server whose rule records FLV, MP4 and HLS on `localhost/live`, with push and
/// record callbacks to `cb`.
async fn start(name: &str) -> (Server, PathBuf, Receiver) {
    let dir = temp_dir(name);
    let config = dir.join("liverec.toml");
    std::fs::write(&config, "[callbacks]\nretry_interval_seconds = 1\n").unwrap();
    let server = Server::start_with(
        &dir.join("data"),
        None,
        &["--config", config.to_str().unwrap()],
    )
    .await;
    let cb = receiver(0).await;
    let template = json!({"TemplateName": "all", "FlvParam": {"Enable": 1, "RecordInterval": 3600},
        "Mp4Param": {"Enable": 1, "RecordInterval": 3600}, "HlsParam": {"Enable": 1}});
    let id = server.call("CreateLiveRecordTemplate", template).await["TemplateId"].clone();
    let rule = json!({"DomainName": "localhost", "AppName": "live", "TemplateId": id});
    assert_eq!(server.code("CreateLiveRecordRule", rule).await, "ok");
    let hooks = json!({"TemplateName": "cb", "CallbackKey": "k", "RecordNotifyUrl": cb.url,
        "StreamBeginNotifyUrl": cb.url, "StreamEndNotifyUrl": cb.url});
    let id = server.call("CreateLiveCallbackTemplate", hooks).await["TemplateId"].clone();
    let rule = json!({"DomainName": "localhost", "AppName": "live", "TemplateId": id});
    assert_eq!(server.code("CreateLiveCallbackRule", rule).await, "ok");
    (server, dir, cb)
}

/// A real-time ffmpeg push of a plain `color` picture with a `tone` for `seconds`.
fn push(server: &Server, stream: &str, color: &str, tone: u32, seconds: u32) -> Child {
    let url = format!("rtmp://127.0.0.1:{}/live/{stream}", server.rtmp_port);
    Command::new("ffmpeg")
        .args(["-v", "error", "-re", "-f", "lavfi", "-i"])
        .arg(format!("color=c={color}:s={WIDTH}x{HEIGHT}:r=25"))
        .args(["-f", "lavfi", "-i"])
        .arg(format!("sine=f={tone}:r=44100"))
        .args(["-t", &seconds.to_string()])
        .args([
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-g",
            "25",
            "-pix_fmt",
            "yuv420p",
        ])
        .args(["-c:a", "aac", "-f", "flv", &url])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// B over A: B in the quarter at (`x`, `y`) (fractions of the background).
fn mix(output: &str, output_type: i64, x: f64, y: f64) -> Value {
    json!({
        "MixStreamSessionId": "room_1",
        "InputStreamList": [
            {"InputStreamName": "a", "LayoutParams": {"ImageLayer": 1}},
            {"InputStreamName": "b", "LayoutParams": {"ImageLayer": 2, "ImageWidth": 0.5,
                "ImageHeight": 0.5, "LocationX": x, "LocationY": y}},
        ],
        "OutputParams": {"OutputStreamName": output, "OutputStreamType": output_type},
    })
}

/// Creates (or changes) a mix; it must be accepted.
async fn create(server: &Server, body: Value) {
    assert_eq!(server.code("CreateCommonMixStream", body).await, "ok");
}

/// Cancels mix `room_1`; it must exist.
async fn cancel(server: &Server) {
    let body = json!({"MixStreamSessionId": "room_1"});
    assert_eq!(server.code("CancelCommonMixStream", body).await, "ok");
}

/// The RGB colour at (`x`, `y`) of the frame `at_s` seconds into `file`.
fn pixel(file: &Path, at_s: f64, x: usize, y: usize) -> [u8; 3] {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-ss", &at_s.to_string(), "-i"])
        .arg(file)
        .args(["-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"])
        .output()
        .unwrap();
    let at = (y * WIDTH + x) * 3;
    assert!(
        out.stdout.len() >= WIDTH * HEIGHT * 3,
        "no frame at {at_s} s of {}",
        file.display()
    );
    [out.stdout[at], out.stdout[at + 1], out.stdout[at + 2]]
}

fn is_red(p: [u8; 3]) -> bool {
    p[0] > 200 && p[1] < 60 && p[2] < 60
}

fn is_blue(p: [u8; 3]) -> bool {
    p[2] > 200 && p[0] < 60 && p[1] < 60
}

/// Mean volume, dB, of `file`'s sound around `hz`.
fn band_volume(file: &Path, hz: u32) -> f64 {
    let out = Command::new("ffmpeg")
        .args(["-i"])
        .arg(file)
        .arg("-af")
        .arg(format!("bandpass=f={hz}:width_type=q:w=20,volumedetect"))
        .args(["-vn", "-f", "null", "-"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    let line = text
        .lines()
        .find(|l| l.contains("mean_volume:"))
        .expect("volumedetect");
    line.split("mean_volume:")
        .nth(1)
        .unwrap()
        .trim()
        .trim_end_matches(" dB")
        .parse()
        .unwrap()
}

fn size(file: &Path) -> (usize, usize) {
    let out = common::recording::ffprobe(
        &[
            "-select_streams",
            "v",
            "-show_entries",
            "stream=width,height",
            "-of",
            "csv=p=0",
        ],
        file,
    );
    let mut it = out
        .lines()
        .next()
        .unwrap_or_default()
        .trim()
        .split(',')
        .map(|n| n.parse::<usize>().unwrap());
    (it.next().unwrap(), it.next().unwrap())
}

fn record_events(cb: &Receiver, stream: &str) -> Vec<Value> {
    cb.of_type(100)
        .into_iter()
        .filter(|e| e["stream_id"] == stream)
        .collect()
}

async fn wait_pushes(children: Vec<Child>) {
    tokio::task::spawn_blocking(move || {
        for mut c in children {
            let _ = c.wait();
        }
    })
    .await
    .unwrap();
}

/// One record callback per file of C (FLV, MP4, HLS), and one push begin and end.
async fn check_callbacks_of_c(cb: &Receiver) {
    for _ in 0..100 {
        if record_events(cb, "c").len() >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let events = record_events(cb, "c");
    let mut formats: Vec<&str> = events
        .iter()
        .map(|e| e["file_format"].as_str().unwrap())
        .collect();
    formats.sort();
    assert_eq!(formats, ["flv", "hls", "mp4"], "{events:?}");
    let count = |t: i64| {
        cb.of_type(t)
            .iter()
            .filter(|e| e["stream_id"] == "c")
            .count()
    };
    assert_eq!((count(1), count(0)), (1, 1), "push begin and end of C");
}

/// Early: A red in its quarter, B blue at bottom right. Late: B at top left.
fn check_pictures(file: &Path, length: f64) {
    let (tl, br) = ((WIDTH / 4, HEIGHT / 4), (3 * WIDTH / 4, 3 * HEIGHT / 4));
    let late = length - 2.0;
    for (at, (x, y), want, name) in [
        (2.0, tl, is_red as fn([u8; 3]) -> bool, "A early"),
        (2.0, br, is_blue, "B early"),
        (late, tl, is_blue, "B late"),
        (late, br, is_red, "A late"),
    ] {
        let p = pixel(file, at, x, y);
        assert!(want(p), "{name} at {at} s: {p:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn b_over_a_is_recorded_as_c_and_moves_when_the_layout_changes() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let (server, _dir, cb) = start("mix-c").await;
    create(&server, mix("c", 1, 0.5, 0.5)).await;
    let pushes = vec![
        push(&server, "a", "red", 440, 12),
        push(&server, "b", "blue", 1000, 12),
    ];
    tokio::time::sleep(Duration::from_secs(7)).await;
    // The same session again: B moves to the top-left quarter, same output.
    create(&server, mix("c", 1, 0.0, 0.0)).await;
    wait_pushes(pushes).await;
    cancel(&server).await;
    check_callbacks_of_c(&cb).await;
    let dir = stream_dir(&server, "c");
    let mp4 = files(&dir, "mp4").pop().expect("C's MP4");
    decodes(&mp4);
    assert_eq!(size(&mp4), (WIDTH, HEIGHT), "C has the background's size");
    let length = duration(&mp4);
    assert!((8.0..=14.0).contains(&length), "C lasts {length} s");
    check_pictures(&mp4, length);
    // Both tones, well above a band neither has.
    let (low, high, none) = (
        band_volume(&mp4, 440),
        band_volume(&mp4, 1000),
        band_volume(&mp4, 3000),
    );
    assert!(
        low > none + 15.0 && high > none + 15.0,
        "440 Hz {low} dB, 1 kHz {high} dB, 3 kHz {none} dB"
    );
    for ext in ["flv", "m3u8"] {
        let file = files(&dir, ext)
            .pop()
            .unwrap_or_else(|| panic!("C's {ext}"));
        assert_eq!(size(&file), (WIDTH, HEIGHT));
    }
    // A and B are recorded as well (a new output stream leaves them as they are).
    for (stream, color) in [("a", is_red as fn([u8; 3]) -> bool), ("b", is_blue)] {
        let flv = files(&stream_dir(&server, stream), "flv")
            .pop()
            .expect("input recorded");
        assert!(
            color(pixel(&flv, 2.0, 3 * WIDTH / 4, 3 * HEIGHT / 4)),
            "{stream} is not mixed"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_output_of_type_0_replaces_a_whose_push_is_not_recorded_unmixed() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let (server, _dir, cb) = start("mix-a").await;
    create(&server, mix("a", 0, 0.5, 0.5)).await;
    let pushes = vec![
        push(&server, "a", "red", 440, 8),
        push(&server, "b", "blue", 1000, 8),
    ];
    wait_pushes(pushes).await;
    // The pushes are over (a cancel while A is live would record A again).
    tokio::time::sleep(Duration::from_secs(1)).await;
    cancel(&server).await;
    for _ in 0..100 {
        if record_events(&cb, "a").len() >= 3 && record_events(&cb, "b").len() >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        record_events(&cb, "a").len(),
        3,
        "A: one FLV, MP4 and HLS, all mixed"
    );
    let br = (3 * WIDTH / 4, 3 * HEIGHT / 4);
    for ext in ["flv", "mp4"] {
        let list = files(&stream_dir(&server, "a"), ext);
        assert_eq!(list.len(), 1, "A's {ext} files: {list:?}");
        assert!(
            is_blue(pixel(&list[0], 2.0, br.0, br.1)),
            "A's {ext} is not the mix"
        );
        assert!(is_red(pixel(&list[0], 2.0, 10, 10)), "A's {ext} lost A");
    }
    let b = files(&stream_dir(&server, "b"), "flv")
        .pop()
        .expect("B recorded");
    assert!(is_blue(pixel(&b, 2.0, 10, 10)), "B is recorded as pushed");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stream_type_1_task_records_only_the_mix_and_an_engine_crash_is_a_discontinuity() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let dir = temp_dir("mix-task");
    let server = Server::start(&dir.join("data"), None).await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    for stream in ["c", "b"] {
        let task = json!({"DomainName": "localhost", "AppName": "live", "StreamName": stream,
            "EndTime": now + 120, "StreamType": 1});
        assert!(server.call("CreateRecordTask", task).await["TaskId"].is_string());
    }
    create(&server, mix("c", 1, 0.5, 0.5)).await;
    let pushes = vec![
        push(&server, "a", "red", 440, 14),
        push(&server, "b", "blue", 1000, 14),
    ];
    tokio::time::sleep(Duration::from_secs(6)).await;
    let killed = Command::new("pkill")
        .args(["-KILL", "-f", "mix-room_1/"])
        .status()
        .unwrap();
    assert!(killed.success(), "no engine to kill");
    wait_pushes(pushes).await;
    cancel(&server).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    // The task of the default template: one HLS recording of C, across the crash.
    let playlists = files(&stream_dir(&server, "c"), "m3u8");
    assert_eq!(playlists.len(), 1, "{playlists:?}");
    let text = std::fs::read_to_string(&playlists[0]).unwrap();
    assert!(text.contains("#EXT-X-DISCONTINUITY"), "{text}");
    let length = duration(&playlists[0]);
    assert!(length >= 9.0, "C lasts {length} s across the crash");
    decodes(&playlists[0]);
    let late = length - 2.0;
    assert!(
        is_blue(pixel(&playlists[0], late, 3 * WIDTH / 4, 3 * HEIGHT / 4)),
        "mixed after the crash"
    );
    // A StreamType 1 task on a pushed stream records nothing; A has no rule.
    for stream in ["a", "b"] {
        assert!(
            !stream_dir(&server, stream).exists(),
            "{stream} was recorded"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_layouts_and_sessions_get_the_reference_codes() {
    let dir = temp_dir("mix-codes");
    let config = dir.join("liverec.toml");
    std::fs::write(&config, "[mix]\nmax_sessions = 2\n").unwrap();
    let args = ["--config", config.to_str().unwrap()];
    let server = Server::start_with(&dir.join("data"), None, &args).await;
    // The same cases as validateMixStream's test in tests/node/config.test.mjs.
    let text = std::fs::read_to_string("tests/fixtures/mix_layouts.json").unwrap();
    let fixture: Value = serde_json::from_str(&text).unwrap();
    for case in fixture["cases"].as_array().unwrap() {
        let code = server
            .code("CreateCommonMixStream", case["body"].clone())
            .await;
        assert_eq!(code, case["code"], "{}", case["name"]);
    }
    let cancel = json!({"MixStreamSessionId": "room_1"});
    let code = server.code("CancelCommonMixStream", cancel.clone()).await;
    assert_eq!(code, "InvalidParameter.CancelSessionNotExist");
    create(&server, mix("c", 1, 0.5, 0.5)).await;
    let code = server
        .code("CreateCommonMixStream", mix("d", 1, 0.5, 0.5))
        .await;
    assert_eq!(code, "InvalidParameter.SessionOutputStreamChanged");
    create(&server, mix("c", 1, 0.0, 0.0)).await;
    // Another session may not write the same output; a third is over the limit.
    let session = |id: &str, output: &str| {
        let mut body = mix(output, 1, 0.5, 0.5);
        body["MixStreamSessionId"] = json!(id);
        body
    };
    let code = server
        .code("CreateCommonMixStream", session("room_2", "c"))
        .await;
    assert_eq!(code, "FailedOperation.ProcessMixError");
    assert_eq!(
        server
            .code("CreateCommonMixStream", session("room_2", "d"))
            .await,
        "ok"
    );
    let code = server
        .code("CreateCommonMixStream", session("room_3", "e"))
        .await;
    assert_eq!(code, "LimitExceeded");
    assert_eq!(
        server.code("CancelCommonMixStream", cancel.clone()).await,
        "ok"
    );
    let code = server.code("CancelCommonMixStream", cancel).await;
    assert_eq!(code, "InvalidParameter.CancelSessionNotExist");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_session_survives_a_restart_and_runs_when_its_inputs_come() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let (server, dir, _cb) = start("mix-restart").await;
    create(&server, mix("c", 1, 0.5, 0.5)).await;
    server.kill9();
    let config = dir.join("liverec.toml");
    let args = ["--config", config.to_str().unwrap()];
    let server = Server::start_with(&dir.join("data"), None, &args).await;
    let pushes = vec![
        push(&server, "a", "red", 440, 6),
        push(&server, "b", "blue", 1000, 6),
    ];
    wait_pushes(pushes).await;
    cancel(&server).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mp4 = files(&stream_dir(&server, "c"), "mp4")
        .pop()
        .expect("C after a restart");
    let p = pixel(&mp4, 2.0, 3 * WIDTH / 4, 3 * HEIGHT / 4);
    assert!(is_blue(p), "{p:?}");
}

/// C's video decode times, ms (FLV).
fn video_times(file: &Path) -> Vec<i64> {
    common::recording::packets(file)
        .into_iter()
        .filter(|(kind, _, _)| kind == "video")
        .map(|(_, _, dts)| dts.parse().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_input_not_live_yet_or_gone_shows_the_canvas_and_the_output_stays_steady() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let (server, _dir, _cb) = start("mix-canvas").await;
    let quarter = |name: &str, layer: i64, at: f64| {
        json!({"InputStreamName": name, "LayoutParams": {"ImageLayer": layer, "ImageWidth": 0.5,
            "ImageHeight": 0.5, "LocationX": at, "LocationY": at}})
    };
    let body = json!({
        "MixStreamSessionId": "room_1",
        "InputStreamList": [
            {"InputStreamName": "canvas", "LayoutParams": {"ImageLayer": 1, "InputType": 3,
                "ImageWidth": WIDTH, "ImageHeight": HEIGHT, "Color": "0x00FF00"}},
            quarter("a", 2, 0.0),
            quarter("b", 3, 0.5),
        ],
        "OutputParams": {"OutputStreamName": "c", "OutputStreamType": 1},
    });
    create(&server, body).await;
    let a = push(&server, "a", "red", 440, 16);
    tokio::time::sleep(Duration::from_secs(4)).await;
    let b = push(&server, "b", "blue", 1000, 6);
    wait_pushes(vec![a, b]).await;
    cancel(&server).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let flv = files(&stream_dir(&server, "c"), "flv")
        .pop()
        .expect("C's FLV");
    let is_green = |p: [u8; 3]| p[1] > 200 && p[0] < 60 && p[2] < 60;
    let (tl, br) = ((WIDTH / 4, HEIGHT / 4), (3 * WIDTH / 4, 3 * HEIGHT / 4));
    for (at, (x, y), want, name) in [
        (
            2.0,
            br,
            is_green as fn([u8; 3]) -> bool,
            "B before it is live",
        ),
        (2.0, tl, is_red, "A"),
        (7.5, br, is_blue, "B live"),
        (13.0, br, is_green, "B after it ended"),
        (13.0, tl, is_red, "A"),
    ] {
        let p = pixel(&flv, at, x, y);
        assert!(want(p), "{name} at {at} s: {p:?}");
    }
    // Two joins, one end: the output's frames stay 40 ms apart (25 fps), rising.
    let times = video_times(&flv);
    assert!(times.len() > 300, "{} frames", times.len());
    let steps: Vec<i64> = times.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(
        steps.iter().all(|s| (30..=50).contains(s)),
        "steps {:?}",
        steps
            .iter()
            .filter(|s| !(30..=50).contains(*s))
            .collect::<Vec<_>>()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stream_replaced_mid_push_stops_recording_then_records_again_after_the_cancel() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let (server, _dir, _cb) = start("mix-midway").await;
    let pushes = vec![
        push(&server, "a", "red", 440, 15),
        push(&server, "b", "blue", 1000, 15),
    ];
    tokio::time::sleep(Duration::from_secs(4)).await;
    create(&server, mix("a", 0, 0.5, 0.5)).await;
    tokio::time::sleep(Duration::from_secs(6)).await;
    cancel(&server).await;
    wait_pushes(pushes).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    // A as pushed, A mixed, A as pushed again: the files in time order.
    let mut flvs = files(&stream_dir(&server, "a"), "flv");
    flvs.sort();
    let br = (3 * WIDTH / 4, 3 * HEIGHT / 4);
    let seen: Vec<&str> = flvs
        .iter()
        .map(|f| {
            let p = pixel(f, 1.0, br.0, br.1);
            if is_blue(p) {
                "mixed"
            } else if is_red(p) {
                "pushed"
            } else {
                "other"
            }
        })
        .collect();
    assert_eq!(seen, ["pushed", "mixed", "pushed"], "{flvs:?}");
}
