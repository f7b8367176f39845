//! The `liverec` binary's offline commands, run as a user would.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::Write;
use std::process::{Command, Output, Stdio};

use serde_json::{json, Value};

fn liverec(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_liverec"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.unwrap_or("").as_bytes()).unwrap();
    drop(input);
    child.wait_with_output().unwrap()
}

fn stdout_json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn valid_template_exits_zero_with_defaults() {
    let out = liverec(
        &["template", "validate", "tests/fixtures/valid_template.json"],
        None,
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = stdout_json(&out);
    assert_eq!(v["ok"], json!(true));
    assert_eq!(v["errors"], json!([]));
    assert_eq!(v["template"]["Mp4Param"]["RecordInterval"], json!(3600));
    assert_eq!(v["template"]["FlvParam"]["StorageMode"], json!("normal"));
    assert_eq!(
        v["template"]["HlsSpecialParam"]["FlowContinueDuration"],
        json!(120)
    );
}

#[test]
fn invalid_template_exits_one_with_every_problem() {
    let out = liverec(
        &[
            "template",
            "validate",
            "tests/fixtures/invalid_template.json",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    let v = stdout_json(&out);
    assert_eq!(v["ok"], json!(false));
    let got: Vec<(String, String)> = v["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["code"].as_str().unwrap().to_owned(),
                p["field"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let want = [
        ("InvalidParameterValue", "TemplateName"),
        ("InvalidParameterValue", "FlvParam.RecordInterval"),
        (
            "InvalidParameter.InvalidVodFileName",
            "FlvParam.VodFileName",
        ),
        ("InvalidParameter", "HlsParam.Enable"),
        ("InvalidParameterValue", "HlsParam.StorageTime"),
        ("InvalidParameterValue", "Mp4Param.RecordInterval"),
        ("InvalidParameterValue", "Mp4Param.StorageMode"),
        ("UnknownParameter", "Mp4Param.Colour"),
        ("InvalidParameterValue", "AacParam.RecordInterval"),
        (
            "InvalidParameter.InvalidVodFileName",
            "AacParam.VodFileName",
        ),
        ("InvalidParameterValue", "IsDelayLive"),
        (
            "InvalidParameterValue",
            "HlsSpecialParam.FlowContinueDuration",
        ),
    ];
    let want: Vec<(String, String)> = want
        .iter()
        .map(|(c, f)| ((*c).into(), (*f).into()))
        .collect();
    assert_eq!(got, want);
}

#[test]
fn template_from_stdin_and_unreadable_inputs() {
    let out = liverec(
        &["template", "validate", "-"],
        Some(r#"{"TemplateName": "t"}"#),
    );
    assert_eq!(out.status.code(), Some(0));
    let out = liverec(&["template", "validate", "-"], Some("{not json"));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not valid JSON"));
    assert!(out.stdout.is_empty());
    let out = liverec(
        &["template", "validate", "tests/fixtures/missing.json"],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read"));
    let out = liverec(&["template", "validate", "-"], Some("[1]"));
    assert_eq!(
        out.status.code(),
        Some(1),
        "a non-object body is an invalid template"
    );
}

#[test]
fn rule_resolve_prints_each_priority_level() {
    let cases = [
        (["--app", "live", "--stream", "cam1"], json!(1), json!(1)),
        (["--app", "other", "--stream", "cam1"], json!(2), json!(2)),
        (["--app", "live", "--stream", "cam2"], json!(3), json!(3)),
        (["--app", "other", "--stream", "cam2"], json!(4), json!(4)),
    ];
    for (extra, template, priority) in cases {
        let mut args = vec![
            "rule",
            "resolve",
            "--rules",
            "tests/fixtures/rules.json",
            "--domain",
            "push.example.com",
        ];
        args.extend(extra);
        let out = liverec(&args, None);
        assert_eq!(out.status.code(), Some(0));
        let v = stdout_json(&out);
        assert_eq!(v["rule"]["TemplateId"], template, "{extra:?}");
        assert_eq!(v["priority"], priority, "{extra:?}");
    }
}

#[test]
fn rule_resolve_without_match_and_with_bad_rules() {
    let out = liverec(
        &[
            "rule",
            "resolve",
            "--rules",
            "tests/fixtures/rules.json",
            "--domain",
            "other.com",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stdout_json(&out), Value::Null);
    let out = liverec(
        &["rule", "resolve", "--rules", "-", "--domain", "a.com"],
        Some(r#"[{"DomainName": 5}]"#),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("rules[0].DomainName"));
    let out = liverec(
        &["rule", "resolve", "--rules", "-", "--domain", "a.com"],
        Some(r#"{"Response": {"Rules": []}}"#),
    );
    assert_eq!(stdout_json(&out), Value::Null);
}

#[test]
fn playlist_inspect_validate_splice_clip() {
    let out = liverec(
        &["playlist", "inspect", "tests/fixtures/hls/push1.m3u8"],
        None,
    );
    assert_eq!(out.status.code(), Some(0));
    let v = stdout_json(&out);
    assert_eq!(v["segmentCount"], json!(3));
    assert_eq!(v["totalDurationSeconds"], json!(5.5));
    assert_eq!(
        v["programDateTime"]["start"],
        json!("2026-11-24T02:00:00.000Z")
    );

    let out = liverec(
        &[
            "playlist",
            "validate",
            "tests/fixtures/hls/target_duration_too_small.m3u8",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    let v = stdout_json(&out);
    assert_eq!(v[0]["code"], json!("TargetDurationExceeded"));
    assert_eq!(v[0]["line"], json!(6));
    let out = liverec(
        &["playlist", "validate", "tests/fixtures/hls/push1.m3u8"],
        None,
    );
    assert_eq!((out.status.code(), stdout_json(&out)), (Some(0), json!([])));

    let out = liverec(
        &[
            "playlist",
            "splice",
            "tests/fixtures/hls/push1.m3u8",
            "tests/fixtures/hls/push2_after_3s_gap.m3u8",
            "--base-url",
            "http://h/one/index.m3u8",
            "--base-url",
            "http://h/two/index.m3u8",
        ],
        None,
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("http://h/one/seg2.ts\n#EXT-X-DISCONTINUITY\n#EXT-X-PROGRAM-DATE-TIME:2026-11-24T02:00:08.500Z\n#EXTINF:2.000,\nhttp://h/two/seg0.ts\n"), "{text}");
    let summary: Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(summary["joins"][0]["reason"], json!("gap"));
    assert_eq!(summary["joins"][0]["gapSeconds"], json!(3.0));

    let dir = std::env::temp_dir().join(format!("liverec-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let output = dir.join("clip.m3u8");
    let out = liverec(
        &[
            "playlist",
            "clip",
            "tests/fixtures/hls/push1.m3u8",
            "--start",
            "2.5",
            "--end",
            "2026-11-24T02:00:04.200Z",
            "-o",
            output.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&output).unwrap();
    assert!(
        text.contains("#EXT-X-START:TIME-OFFSET=0.500,PRECISE=YES\n"),
        "{text}"
    );
    assert_eq!(text.matches("#EXTINF").count(), 2, "{text}");
    let summary: Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(
        (
            summary["firstSegment"].clone(),
            summary["startOffsetSeconds"].clone()
        ),
        (json!(1), json!(0.5))
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn playlist_errors_are_reported() {
    let out = liverec(
        &[
            "playlist",
            "clip",
            "tests/fixtures/hls/push1.m3u8",
            "--start",
            "99",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("clip"));
    let out = liverec(&["playlist", "inspect", "-"], Some("#EXTM3U\n\u{0}"));
    assert_eq!(
        out.status.code(),
        Some(0),
        "text with odd bytes still parses"
    );
    let out = liverec(
        &[
            "playlist",
            "splice",
            "a",
            "b",
            "--base-url",
            "x",
            "--base-url",
            "y",
            "--base-url",
            "z",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--base-url"));
}
