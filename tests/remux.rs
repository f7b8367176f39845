//! `liverec remux` on FLV files made by ffmpeg, checked with ffmpeg/ffprobe.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn work_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("liverec-remux-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn ffmpeg(args: &[&str]) {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-y"])
        .args(args)
        .output();
    let out = out.expect("ffmpeg is missing: apt-get install ffmpeg (scripts/test-all.sh does)");
    assert!(
        out.status.success(),
        "ffmpeg {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn packets(path: &Path, stream: &str) -> usize {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-select_streams",
            stream,
            "-count_packets",
            "-show_entries",
            "stream=nb_read_packets",
            "-of",
            "csv=p=0",
        ])
        .arg(path)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

fn remux(input: &Path, out: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_liverec"))
        .arg("remux")
        .arg(input)
        .args(["--to", "aac", "--out"])
        .arg(out)
        .output()
        .unwrap()
}

/// H.264 with B-frames + AAC, and audio-only, 4 s each.
fn inputs(dir: &Path) -> (PathBuf, PathBuf) {
    let av = dir.join("h264_bframes_aac.flv");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=320x180:rate=25",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:sample_rate=44100",
        "-t",
        "4",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-bf",
        "2",
        "-g",
        "25",
        "-c:a",
        "aac",
        "-ac",
        "2",
        "-b:a",
        "96k",
        "-f",
        "flv",
        av.to_str().unwrap(),
    ]);
    let audio = dir.join("audio_only_aac.flv");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=880:sample_rate=48000",
        "-t",
        "4",
        "-c:a",
        "aac",
        "-f",
        "flv",
        audio.to_str().unwrap(),
    ]);
    (av, audio)
}

#[test]
fn aac_output_is_byte_identical_to_ffmpegs_adts_and_decodes() {
    let dir = work_dir("aac");
    let (av, audio) = inputs(&dir);
    for input in [&av, &audio] {
        let ours = input.with_extension("liverec.aac");
        let out = remux(input, &ours);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
        let reference = input.with_extension("ffmpeg.aac");
        ffmpeg(&[
            "-i",
            input.to_str().unwrap(),
            "-vn",
            "-c:a",
            "copy",
            "-f",
            "adts",
            reference.to_str().unwrap(),
        ]);
        assert_eq!(
            std::fs::read(&ours).unwrap(),
            std::fs::read(&reference).unwrap(),
            "{}",
            input.display()
        );
        let frames = summary["files"][0]["frames"].as_u64().unwrap() as usize;
        assert_eq!(frames, packets(input, "a"));
        assert_eq!(packets(&ours, "a"), frames);
        ffmpeg(&[
            "-v",
            "error",
            "-i",
            ours.to_str().unwrap(),
            "-f",
            "null",
            "-",
        ]);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn truncated_input_keeps_what_was_complete_and_garbage_fails_with_an_offset() {
    let dir = work_dir("bad");
    let (av, _) = inputs(&dir);
    let bytes = std::fs::read(&av).unwrap();
    let truncated = dir.join("truncated_mid_tag.flv");
    std::fs::write(&truncated, &bytes[..bytes.len() * 2 / 3]).unwrap();
    let out_path = dir.join("truncated.aac");
    let out = remux(&truncated, &out_path);
    assert!(out.status.success());
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        summary["truncated"]
            .as_str()
            .unwrap()
            .contains("input ends inside a tag"),
        "{summary}"
    );
    assert!(summary["files"][0]["frames"].as_u64().unwrap() > 0);
    ffmpeg(&[
        "-v",
        "error",
        "-i",
        out_path.to_str().unwrap(),
        "-f",
        "null",
        "-",
    ]);

    let garbage = dir.join("not_flv.flv");
    std::fs::write(&garbage, b"<html>not a video</html>").unwrap();
    let out = remux(&garbage, &dir.join("x.aac"));
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("byte 0") && stderr.contains("not an FLV file"),
        "{stderr}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
