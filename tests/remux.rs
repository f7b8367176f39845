//! `liverec remux` on FLV files made by ffmpeg, checked with ffmpeg/ffprobe.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::path::{Path, PathBuf};

use common::hevc::{enhanced_hevc_flv, hevc_flv};
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
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|l| l.trim().parse().ok())
        .unwrap_or_else(|| panic!("no packet count for {}: {text:?}", path.display()))
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

/// ffprobe's packets of one stream: (pts_time, dts_time).
fn packet_times(path: &Path, stream: &str) -> Vec<(f64, f64)> {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-select_streams",
            stream,
            "-show_entries",
            "packet=pts_time,dts_time",
            "-of",
            "json",
        ])
        .arg(path)
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["packets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let t = |k: &str| {
                p[k].as_str()
                    .and_then(|s| s.parse::<f64>().ok())
                    .unwrap_or(f64::NAN)
            };
            (t("pts_time"), t("dts_time"))
        })
        .collect()
}

fn remux_to(input: &Path, to: &str, out: &Path, extra: &[&str]) -> Value {
    let o = Command::new(env!("CARGO_BIN_EXE_liverec"))
        .arg("remux")
        .arg(input)
        .args(["--to", to, "--out"])
        .arg(out)
        .args(extra)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

/// Same packet count and the same PTS/DTS (plus the documented 1.4 s) per stream.
fn assert_same_timestamps(input: &Path, output: &Path) {
    for stream in ["v", "a"] {
        let a = packet_times(input, stream);
        let b = packet_times(output, stream);
        assert_eq!(
            a.len(),
            b.len(),
            "{stream} packet count of {}",
            output.display()
        );
        for (i, ((pa, da), (pb, db))) in a.iter().zip(&b).enumerate() {
            assert!(
                (pb - 1.4 - pa).abs() < 0.0005 && (db - 1.4 - da).abs() < 0.0005,
                "{stream} packet {i}: in {pa}/{da} out {pb}/{db}"
            );
        }
    }
}

#[test]
fn ts_and_hls_keep_every_packet_and_timestamp() {
    let dir = work_dir("ts");
    let (av, _) = inputs(&dir);
    let ts = dir.join("out.ts");
    let summary = remux_to(&av, "ts", &ts, &[]);
    assert_eq!(summary["files"].as_array().unwrap().len(), 1);
    assert_same_timestamps(&av, &ts);
    ffmpeg(&["-v", "error", "-i", ts.to_str().unwrap(), "-f", "null", "-"]);
    let m3u8 = dir.join("hls/out.m3u8");
    let summary = remux_to(&av, "hls", &m3u8, &["--segment", "1"]);
    let files = summary["files"].as_array().unwrap();
    assert_eq!(
        files.len(),
        4,
        "1-second segments cut at the 1-second keyframes"
    );
    assert_same_timestamps(&av, &m3u8);
    for f in files {
        let path = PathBuf::from(f["path"].as_str().unwrap());
        ffmpeg(&[
            "-v",
            "error",
            "-i",
            path.to_str().unwrap(),
            "-f",
            "null",
            "-",
        ]);
    }
    let text = std::fs::read_to_string(&m3u8).unwrap();
    assert!(
        text.contains("#EXT-X-PLAYLIST-TYPE:VOD\n") && text.ends_with("#EXT-X-ENDLIST\n"),
        "{text}"
    );
    let validate = Command::new(env!("CARGO_BIN_EXE_liverec"))
        .args(["playlist", "validate"])
        .arg(&m3u8)
        .output()
        .unwrap();
    assert!(
        validate.status.success(),
        "{}",
        String::from_utf8_lossy(&validate.stdout)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// An FLV whose tags continue with those of `next` (its header dropped).
fn concat_flv(first: &Path, next: &Path, out: &Path) {
    let mut bytes = std::fs::read(first).unwrap();
    bytes.extend_from_slice(&std::fs::read(next).unwrap()[13..]);
    std::fs::write(out, bytes).unwrap();
}

#[test]
fn timestamp_jumps_and_resolution_changes_start_a_discontinuity() {
    let dir = work_dir("jumps");
    let part = |name: &str, size: &str, offset: &str| {
        let path = dir.join(name);
        ffmpeg(&[
            "-f",
            "lavfi",
            "-i",
            &format!("testsrc2=size={size}:rate=25"),
            "-f",
            "lavfi",
            "-i",
            "sine=sample_rate=44100",
            "-t",
            "2",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-g",
            "25",
            "-c:a",
            "aac",
            "-output_ts_offset",
            offset,
            "-f",
            "flv",
            path.to_str().unwrap(),
        ]);
        path
    };
    let a = part("a.flv", "320x180", "0");
    let jump = part("b_plus_60s.flv", "320x180", "60");
    let bigger = part("c_640x360.flv", "640x360", "2");
    for (name, next) in [
        ("timestamp_jump_60s.flv", &jump),
        ("resolution_change.flv", &bigger),
    ] {
        let input = dir.join(name);
        concat_flv(&a, next, &input);
        let m3u8 = dir.join(format!("{name}.hls/index.m3u8"));
        let summary = remux_to(&input, "hls", &m3u8, &["--segment", "1"]);
        let flags: Vec<bool> = summary["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["discontinuity"].as_bool().unwrap())
            .collect();
        assert_eq!(flags, [false, false, true, false], "{name}: {summary}");
        let text = std::fs::read_to_string(&m3u8).unwrap();
        assert_eq!(text.matches("#EXT-X-DISCONTINUITY\n").count(), 1, "{text}");
        for f in summary["files"].as_array().unwrap() {
            ffmpeg(&[
                "-v",
                "error",
                "-i",
                f["path"].as_str().unwrap(),
                "-f",
                "null",
                "-",
            ]);
        }
        assert_eq!(packets(&input, "v"), packets(&m3u8, "v"), "{name}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn enhanced_rtmp_hevc_remuxes_to_ts_and_hls() {
    let dir = work_dir("hevc");
    let raw = dir.join("x265.hevc");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=320x180:rate=25",
        "-t",
        "2",
        "-c:v",
        "libx265",
        "-x265-params",
        "keyint=25:bframes=0:aud=1:log-level=error",
        "-f",
        "hevc",
        raw.to_str().unwrap(),
    ]);
    let flv = dir.join("hevc_enhanced_rtmp.flv");
    let frames = enhanced_hevc_flv(&raw, &flv);
    let ts = dir.join("hevc.ts");
    let summary = remux_to(&flv, "ts", &ts, &[]);
    assert_eq!(
        summary["files"][0]["frames"].as_u64().unwrap() as usize,
        frames
    );
    let probe = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "stream=codec_name,width,height",
            "-of",
            "csv=p=0",
        ])
        .arg(&ts)
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&probe.stdout).lines().next(),
        Some("hevc,320,180")
    );
    let times = packet_times(&ts, "v");
    assert_eq!(times.len(), frames);
    for (i, (pts, dts)) in times.iter().enumerate() {
        let want = i as f64 * 0.040 + 1.4;
        assert!(
            (pts - want).abs() < 0.0005 && (dts - want).abs() < 0.0005,
            "frame {i}: {pts}/{dts}"
        );
    }
    ffmpeg(&["-v", "error", "-i", ts.to_str().unwrap(), "-f", "null", "-"]);
    let mp4 = dir.join("hevc.mp4");
    remux_to(&flv, "mp4", &mp4, &[]);
    let probe = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "stream=codec_name,codec_tag_string",
            "-of",
            "csv=p=0",
        ])
        .arg(&mp4)
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&probe.stdout).lines().next(),
        Some("hevc,hvc1")
    );
    assert_eq!(packet_times(&mp4, "v").len(), frames);
    ffmpeg(&[
        "-v",
        "error",
        "-i",
        mp4.to_str().unwrap(),
        "-f",
        "null",
        "-",
    ]);
    let m3u8 = dir.join("hls/index.m3u8");
    let summary = remux_to(&flv, "hls", &m3u8, &["--segment", "1"]);
    assert_eq!(summary["files"].as_array().unwrap().len(), 2);
    for f in summary["files"].as_array().unwrap() {
        ffmpeg(&[
            "-v",
            "error",
            "-i",
            f["path"].as_str().unwrap(),
            "-f",
            "null",
            "-",
        ]);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn flv_output_keeps_tags_and_timestamps_and_indexes_keyframes() {
    let dir = work_dir("flv");
    let (av, audio) = inputs(&dir);
    for input in [&av, &audio] {
        let out = input.with_extension("out.flv");
        let summary = remux_to(input, "flv", &out, &[]);
        assert_eq!(summary["files"].as_array().unwrap().len(), 1);
        for stream in ["v", "a"] {
            let a = packet_times(input, stream);
            let b = packet_times(&out, stream);
            assert_eq!(a.len(), b.len(), "{stream} of {}", input.display());
            assert!(
                a.iter()
                    .zip(&b)
                    .all(|(x, y)| (x.0 - y.0).abs() < 1e-6 && (x.1 - y.1).abs() < 1e-6),
                "timestamps unchanged"
            );
        }
        let probe = Command::new("ffprobe")
            .args([
                "-v",
                "error",
                "-show_entries",
                "format=duration,size",
                "-of",
                "csv=p=0",
            ])
            .arg(&out)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&probe.stdout);
        let (duration, size) = text.trim().split_once(',').unwrap();
        assert_eq!(
            size.parse::<u64>().unwrap(),
            std::fs::metadata(&out).unwrap().len()
        );
        assert!(
            (duration.parse::<f64>().unwrap() - 4.0).abs() < 0.1,
            "{duration}"
        );
        ffmpeg(&[
            "-v",
            "error",
            "-i",
            out.to_str().unwrap(),
            "-f",
            "null",
            "-",
        ]);
    }
    let segments = remux_to(&av, "flv", &dir.join("seg/out.flv"), &["--segment", "1"]);
    let files = segments["files"].as_array().unwrap();
    assert_eq!(files.len(), 4);
    let total: usize = files
        .iter()
        .map(|f| packets(Path::new(f["path"].as_str().unwrap()), "v"))
        .sum();
    assert_eq!(total, packets(&av, "v"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn mp4_output_is_fragmented_exact_and_crash_tolerant() {
    let dir = work_dir("mp4");
    let (av, audio) = inputs(&dir);
    for input in [&av, &audio] {
        let out = input.with_extension("out.mp4");
        let summary = remux_to(input, "mp4", &out, &[]);
        assert_eq!(summary["files"].as_array().unwrap().len(), 1);
        for stream in ["v", "a"] {
            let a = packet_times(input, stream);
            let b = packet_times(&out, stream);
            assert_eq!(a.len(), b.len(), "{stream} of {}", input.display());
            assert!(
                a.iter()
                    .zip(&b)
                    .all(|(x, y)| (x.0 - y.0).abs() < 5e-4 && (x.1 - y.1).abs() < 5e-4),
                "timestamps unchanged"
            );
        }
        ffmpeg(&[
            "-v",
            "error",
            "-i",
            out.to_str().unwrap(),
            "-f",
            "null",
            "-",
        ]);
        // Progressive after finalize: one moov, first; the fragments' mdats stay where
        // they were, their moofs (and the initialization moov) turned into free boxes.
        let boxes = top_level_boxes(&out);
        assert_eq!(boxes[..2], ["ftyp", "moov"], "moov-first");
        assert!(
            boxes[2..].iter().all(|b| b == "free" || b == "mdat")
                && boxes.contains(&"mdat".into())
                && boxes.contains(&"free".into()),
            "{boxes:?}"
        );
        // Written in place: the summary's size is the file's.
        assert_eq!(
            summary["files"][0]["bytes"].as_u64(),
            Some(std::fs::metadata(&out).unwrap().len())
        );
        // --fragmented: the fragmented form, with no room for a moov never written.
        let kept = input.with_extension("frag.mp4");
        remux_to(input, "mp4", &kept, &["--fragmented"]);
        assert_eq!(&top_level_boxes(&kept)[..3], ["ftyp", "moov", "moof"]);
        assert_eq!(packet_times(&kept, "a"), packet_times(&out, "a"));
        // Killed mid-recording: the fragmented file as it grows, cut at 70 %.
        let growing = fragmented_only(input);
        assert_eq!(
            &top_level_boxes_of(&growing)[..4],
            ["ftyp", "free", "moov", "moof"]
        );
        let cut = dir.join("killed.mp4");
        std::fs::write(&cut, &growing[..growing.len() * 7 / 10]).unwrap();
        // Everything up to the last complete fragment before the cut is readable.
        let boundary = fragment_boundary(&growing, growing.len() * 7 / 10);
        let clean = dir.join("clean.mp4");
        std::fs::write(&clean, &growing[..boundary]).unwrap();
        let (kept, complete) = (packets(&cut, "a"), packets(&clean, "a"));
        assert!(
            complete > 0 && kept >= complete,
            "{kept} packets after the kill, {complete} in complete fragments"
        );
    }
    let parts = remux_to(&av, "mp4", &dir.join("parts/out.mp4"), &["--segment", "1"]);
    let files = parts["files"].as_array().unwrap();
    assert_eq!(files.len(), 4);
    for f in files {
        ffmpeg(&[
            "-v",
            "error",
            "-i",
            f["path"].as_str().unwrap(),
            "-f",
            "null",
            "-",
        ]);
    }
    let total: usize = files
        .iter()
        .map(|f| packets(Path::new(f["path"].as_str().unwrap()), "v"))
        .sum();
    assert_eq!(total, packets(&av, "v"));
    std::fs::remove_dir_all(&dir).unwrap();
}

fn top_level_boxes_of(bytes: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let mut at = 0usize;
    while at + 8 <= bytes.len() {
        let size = u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()) as u64;
        out.push(String::from_utf8_lossy(&bytes[at + 4..at + 8]).into_owned());
        let size = if size == 1 {
            u64::from_be_bytes(bytes[at + 8..at + 16].try_into().unwrap())
        } else {
            size
        };
        if size < 8 {
            break;
        }
        at += size as usize;
    }
    out
}

fn top_level_boxes(path: &Path) -> Vec<String> {
    top_level_boxes_of(&std::fs::read(path).unwrap())
}

/// The bytes the MP4 recorder has written before its finalize rewrite: what a killed
/// process leaves behind.
fn fragmented_only(input: &Path) -> Vec<u8> {
    use liverec::formats::flv::{FlvDemuxer, FrameReader};
    use liverec::record::mp4::Mp4Segmenter;
    use liverec::record::{SegmentEvent, Segmenter};
    let mut demuxer = FlvDemuxer::new();
    demuxer.push(&std::fs::read(input).unwrap());
    let mut reader = FrameReader::default();
    // With room for the moov at the head, as a recording has.
    let len = std::fs::metadata(input).unwrap().len();
    let mut segmenter = Mp4Segmenter::new(None).input_bytes(Some(len));
    let mut events = Vec::new();
    while let Some(tag) = demuxer.pull().unwrap() {
        for event in reader.push_tag(&tag) {
            segmenter.push(&event, &mut events);
        }
    }
    events
        .into_iter()
        .filter_map(|e| {
            if let SegmentEvent::Data(d) = e {
                Some(d)
            } else {
                None
            }
        })
        .flatten()
        .collect()
}

/// End of the last complete top-level box at or before `limit`.
fn fragment_boundary(bytes: &[u8], limit: usize) -> usize {
    let mut at = 0usize;
    let mut last = 0;
    while at + 8 <= bytes.len() {
        let size = u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        if size < 8 || at + size > limit {
            break;
        }
        at += size;
        if &bytes[at - size + 4..at - size + 8] == b"mdat" {
            last = at;
        }
    }
    last
}

#[test]
fn legacy_codec_id_12_hevc_is_read_too() {
    let dir = work_dir("hevc-legacy");
    let raw = dir.join("x265.hevc");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=320x180:rate=25",
        "-t",
        "1",
        "-c:v",
        "libx265",
        "-x265-params",
        "keyint=25:bframes=0:aud=1:log-level=error",
        "-f",
        "hevc",
        raw.to_str().unwrap(),
    ]);
    let flv = dir.join("hevc_legacy_codec_id_12.flv");
    let frames = hevc_flv(&raw, &flv, true);
    for (to, name) in [("ts", "out.ts"), ("mp4", "out.mp4")] {
        let out = dir.join(name);
        remux_to(&flv, to, &out, &[]);
        assert_eq!(packet_times(&out, "v").len(), frames, "{to}");
        ffmpeg(&[
            "-v",
            "error",
            "-i",
            out.to_str().unwrap(),
            "-f",
            "null",
            "-",
        ]);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
