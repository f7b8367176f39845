//! The console's clip export, natively: HLS recordings made by ffmpeg, spliced on one
//! timeline, cut with `TsClip` segment by segment, assembled from the head and extents
//! as a browser would (`new Blob([head, ...slices])`), then read by ffprobe and decoded
//! by ffmpeg.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use liverec::formats::mp4::from_ts::{TsClip, TsClipError};

/// An HLS recording of `seconds` at `size` (25 fps, keyframe every 2 s, 2 s segments).
fn recording(dir: &Path, name: &str, seconds: u32, size: &str, tone: u32) -> PathBuf {
    let playlist = dir.join(format!("{name}.m3u8"));
    let status = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg(format!("testsrc2=size={size}:rate=25"))
        .args(["-f", "lavfi", "-i"])
        .arg(format!("sine=frequency={tone}:sample_rate=48000"))
        .args(["-t", &seconds.to_string()])
        .args([
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-g",
            "50",
            "-bf",
            "2",
        ])
        .args(["-c:a", "aac", "-b:a", "64k"])
        .args(["-f", "hls", "-hls_time", "2", "-hls_list_size", "0"])
        .args(["-hls_playlist_type", "vod", "-hls_segment_filename"])
        .arg(dir.join(format!("{name}-%03d.ts")))
        .arg(&playlist)
        .status()
        .unwrap();
    assert!(status.success());
    playlist
}

/// (segment path, EXTINF seconds) of a playlist.
fn segments(playlist: &Path) -> Vec<(PathBuf, f64)> {
    let text = std::fs::read_to_string(playlist).unwrap();
    let mut out = Vec::new();
    let mut duration = None;
    for line in text.lines() {
        if let Some(d) = line.strip_prefix("#EXTINF:") {
            duration = Some(d.trim_end_matches(',').parse::<f64>().unwrap());
        } else if !line.starts_with('#') && !line.is_empty() {
            out.push((playlist.with_file_name(line), duration.take().unwrap()));
        }
    }
    out
}

/// Cuts `[start, end)` seconds of the recordings played one after the other; returns
/// the assembled file.
fn export(recordings: &[PathBuf], start: f64, end: f64) -> Result<Vec<u8>, TsClipError> {
    let mut clip = TsClip::new();
    let mut files = Vec::new();
    let mut at = 0.0;
    for playlist in recordings {
        clip.begin_recording().unwrap();
        for (segment, duration) in segments(playlist) {
            let (from, to) = (at, at + duration);
            at = to;
            if to <= start || from >= end {
                continue; // not fetched: outside the clip
            }
            let bytes = std::fs::read(segment).unwrap();
            files.push(clip.push_segment(&bytes, (from * 1000.0).round() as i64)?);
        }
    }
    let stitched = clip.finish(
        (start * 1000.0).round() as i64,
        (end * 1000.0).round() as i64,
    )?;
    let mut out = stitched.head.clone();
    for e in &stitched.extents {
        assert_eq!(out.len() as u64, e.at);
        let file = &files[e.source as usize];
        out.extend_from_slice(&file[e.offset as usize..(e.offset + e.len) as usize]);
    }
    assert_eq!(out.len() as u64, stitched.len);
    Ok(out)
}

fn probe(file: &Path, entries: &str) -> String {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-show_entries", entries, "-of", "csv=p=0"])
        .arg(file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn decodes_clean(file: &Path) -> usize {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(file)
        .args(["-map", "0:v", "-f", "framecrc", "-"])
        .output()
        .unwrap();
    let errors = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && errors.trim().is_empty(), "{errors}");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.starts_with('#'))
        .count()
}

#[test]
fn a_clip_across_two_recordings_lasts_what_was_marked() {
    let dir = common::temp_dir("ts-clip");
    let a = recording(&dir, "a", 12, "320x240", 440);
    let b = recording(&dir, "b", 12, "320x240", 880);
    // 8.0 s .. 18.0 s: the last 4 s of the first recording and 6 s of the second.
    let mp4 = export(&[a.clone(), b.clone()], 8.0, 18.0).unwrap();
    let path = dir.join("clip.mp4");
    std::fs::write(&path, &mp4).unwrap();
    let duration: f64 = probe(&path, "format=duration").trim().parse().unwrap();
    assert!((duration - 10.0).abs() <= 0.04, "duration {duration}");
    let codecs = probe(&path, "stream=codec_name");
    assert_eq!(
        codecs.split_whitespace().collect::<Vec<_>>(),
        ["h264", "aac"]
    );
    // Video starts at the keyframe before 8.0 s (at 8.0 s itself here): 250 frames, the
    // edit list showing exactly 10 s of them.
    let frames = decodes_clean(&path);
    assert!((250..=252).contains(&frames), "{frames} frames");
    assert!(common::mp4_boxes(&path).starts_with(&["ftyp".to_string(), "moov".to_string()]));

    // A clip inside one segment, not on a keyframe: starts exactly, from the GOP before.
    let mp4 = export(&[a], 3.3, 4.1).unwrap();
    std::fs::write(&path, &mp4).unwrap();
    let duration: f64 = probe(&path, "format=duration").trim().parse().unwrap();
    assert!((duration - 0.8).abs() <= 0.04, "duration {duration}");
    decodes_clean(&path);
}

#[test]
fn timestamps_that_restart_without_a_discontinuity_start_a_new_recording() {
    let dir = common::temp_dir("ts-clip-restart");
    let a = recording(&dir, "a", 6, "320x240", 440);
    let b = recording(&dir, "b", 6, "320x240", 880);
    // Both pushed as one recording (no beginRecording between): b's clock restarts at 0.
    let mut clip = TsClip::new();
    let mut files = Vec::new();
    let mut at = 0.0;
    for (segment, duration) in segments(&a).into_iter().chain(segments(&b)) {
        let bytes = std::fs::read(segment).unwrap();
        files.push(
            clip.push_segment(&bytes, (at * 1000.0_f64).round() as i64)
                .unwrap(),
        );
        at += duration;
    }
    let stitched = clip.finish(2_000, 10_000).unwrap();
    assert_eq!(stitched.duration_ms, 8_000);
    let mut out = stitched.head.clone();
    for e in &stitched.extents {
        let file = &files[e.source as usize];
        out.extend_from_slice(&file[e.offset as usize..(e.offset + e.len) as usize]);
    }
    let path = dir.join("clip.mp4");
    std::fs::write(&path, &out).unwrap();
    let duration: f64 = probe(&path, "format=duration").trim().parse().unwrap();
    assert!((duration - 8.0).abs() <= 0.04, "duration {duration}");
    assert!((200..=202).contains(&decodes_clean(&path)));
}

/// `(head, extents)` of a clip of one recording, each segment streamed in with writes
/// of `chunk` bytes (whole segments when `None`).
fn cut(playlist: &Path, chunk: Option<usize>) -> (Vec<u8>, Vec<Vec<u8>>) {
    let mut clip = TsClip::new();
    let mut files = Vec::new();
    let mut at = 0.0_f64;
    for (segment, duration) in segments(playlist) {
        let bytes = std::fs::read(segment).unwrap();
        let start = (at * 1000.0).round() as i64;
        at += duration;
        let Some(chunk) = chunk else {
            files.push(clip.push_segment(&bytes, start).unwrap());
            continue;
        };
        clip.begin_segment(start).unwrap();
        assert_eq!(clip.begin_recording().unwrap_err().code(), "ClipMisuse");
        for part in bytes.chunks(chunk) {
            clip.write(part).unwrap();
        }
        files.push(clip.end_segment().unwrap().to_vec());
    }
    let stitched = clip.finish(1_000, 5_000).unwrap();
    let extents = stitched
        .extents
        .iter()
        .map(|e| files[e.source as usize][e.offset as usize..(e.offset + e.len) as usize].to_vec())
        .collect();
    (stitched.head, extents)
}

#[test]
fn a_segment_streamed_in_chunks_of_any_size_gives_the_same_clip() {
    let dir = common::temp_dir("ts-clip-chunks");
    let a = recording(&dir, "a", 6, "320x240", 440);
    let whole = cut(&a, None);
    for chunk in [1, 187, 188, 189, 4096, 65_537] {
        assert!(cut(&a, Some(chunk)) == whole, "writes of {chunk} bytes");
    }
    let mut clip = TsClip::new();
    assert_eq!(clip.write(&[0x47]).unwrap_err().code(), "ClipMisuse");
    assert_eq!(clip.end_segment().unwrap_err().code(), "ClipMisuse");
    clip.begin_segment(0).unwrap();
    assert_eq!(clip.begin_segment(0).unwrap_err().code(), "ClipMisuse");
    assert_eq!(clip.finish(0, 1000).unwrap_err().code(), "ClipMisuse");
}

#[test]
fn recordings_with_different_settings_are_refused() {
    let dir = common::temp_dir("ts-clip-config");
    let a = recording(&dir, "a", 4, "320x240", 440);
    let b = recording(&dir, "b", 4, "640x360", 440);
    let error = export(&[a, b], 1.0, 7.0).unwrap_err();
    assert_eq!(error.code(), "ClipConfigChanged", "{error}");
}

#[test]
fn garbage_and_empty_input_are_errors_not_panics() {
    let mut clip = TsClip::new();
    let noise: Vec<u8> = (0..100_000u32).map(|i| (i * 7919 % 251) as u8).collect();
    assert!(clip.push_segment(&noise, 0).unwrap().is_empty());
    assert_eq!(clip.finish(0, 1000).unwrap_err().code(), "ClipEmpty");
    assert_eq!(clip.push_segment(&[], 0).unwrap_err().code(), "ClipMisuse");
    assert_eq!(TsClip::new().finish(5, 5).unwrap_err().code(), "ClipMisuse");
}

/// Native speed of the export's demux + layout over a real recording (on demand:
/// `LIVEREC_CLIP_BENCH=playlist.m3u8 cargo test --release --test ts_clip -- --ignored`).
#[test]
#[ignore = "a benchmark: needs LIVEREC_CLIP_BENCH"]
fn export_speed() {
    let Ok(playlist) = std::env::var("LIVEREC_CLIP_BENCH") else {
        return;
    };
    let segments = segments(Path::new(&playlist));
    let inputs: Vec<Vec<u8>> = segments
        .iter()
        .map(|(p, _)| std::fs::read(p).unwrap())
        .collect();
    let started = std::time::Instant::now();
    let mut clip = TsClip::new();
    let (mut at, mut out) = (0.0, 0usize);
    for ((_, duration), bytes) in segments.iter().zip(&inputs) {
        out += clip
            .push_segment(bytes, (at * 1000.0_f64).round() as i64)
            .unwrap()
            .len();
        at += duration;
    }
    let stitched = clip.finish(0, (at * 1000.0).round() as i64).unwrap();
    let total: usize = inputs.iter().map(Vec::len).sum();
    println!(
        "{} segments, {} MB of TS -> {} MB of samples + {} KB head in {:.3} s",
        inputs.len(),
        total / 1_000_000,
        out / 1_000_000,
        stitched.head.len() / 1000,
        started.elapsed().as_secs_f64()
    );
}
