//! FFmpeg 9.0.2 (PyPI imageio-ffmpeg, installed by the test command under
//! `target/ffmpeg9-venv`) for Enhanced RTMP v2 pushes, and packet-level comparisons of
//! recordings with what was sent.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::recording::ffprobe;

/// The static FFmpeg 9.0.2 that `scripts/test-all.sh` installs (PyPI imageio-ffmpeg
/// 0.8.1 in `target/ffmpeg9-venv`).
pub fn ffmpeg9() -> PathBuf {
    let python = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/ffmpeg9-venv/bin/python");
    let out = Command::new(&python)
        .args([
            "-c",
            "import imageio_ffmpeg; print(imageio_ffmpeg.get_ffmpeg_exe())",
        ])
        .output()
        .unwrap_or_else(|e| panic!("{}: {e} (run scripts/test-all.sh)", python.display()));
    assert!(
        out.status.success(),
        "imageio-ffmpeg missing: run scripts/test-all.sh"
    );
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

/// Asserts that FFmpeg 9 decodes `file` without a message.
pub fn decodes_with(ffmpeg: &Path, file: &Path) {
    let decoded = Command::new(ffmpeg)
        .args(["-v", "error", "-i"])
        .arg(file)
        .args(["-f", "null", "-"])
        .output()
        .unwrap();
    let errors = String::from_utf8_lossy(&decoded.stderr);
    let clean = decoded.status.success() && errors.is_empty();
    assert!(clean, "{}: {errors}", file.display());
}

/// Encodes 3 s of `video` (an FFmpeg encoder with its options) + Opus into an
/// Enhanced RTMP FLV with FFmpeg 9.
pub fn enhanced_flv(ffmpeg: &Path, video: &[&str], path: &Path) {
    enhanced_flv_with(ffmpeg, video, &["-c:a", "libopus", "-b:a", "64k"], path);
}

/// Encodes 3 s of `video` + `audio` (encoders with their options; a 1 s GOP) into an
/// FLV with FFmpeg 9 (enhanced where a codec needs it).
pub fn enhanced_flv_with(ffmpeg: &Path, video: &[&str], audio: &[&str], path: &Path) {
    let made = Command::new(ffmpeg)
        .args([
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=320x240:rate=25",
        ])
        .args([
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:sample_rate=48000",
            "-t",
            "3",
        ])
        .args(["-map", "0:v", "-map", "1:a", "-g", "25"])
        .args(video)
        .args(audio)
        .args(["-f", "flv", "-y"])
        .arg(path)
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
}

/// Per stream index, the (dts, payload CRC) of every packet, as FFmpeg 9 reads them.
pub fn crcs(ffmpeg: &Path, file: &Path) -> Vec<Vec<(i64, String)>> {
    let out = Command::new(ffmpeg)
        .args(["-v", "error", "-i"])
        .arg(file)
        .args(["-map", "0", "-c", "copy", "-copyts", "-f", "framecrc", "-"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut streams: Vec<Vec<(i64, String)>> = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.starts_with('#'))
    {
        let f: Vec<&str> = line.split(',').map(str::trim).collect();
        let (Some(index), Some(dts), Some(crc)) = (f.first(), f.get(1), f.get(5)) else {
            continue;
        };
        let index: usize = index.parse().unwrap();
        streams.resize(streams.len().max(index + 1), Vec::new());
        streams[index].push((dts.parse().unwrap(), (*crc).to_owned()));
    }
    streams
}

/// The codecs of `file`'s streams (an HLS playlist's program repeats them after an empty
/// line: left out).
pub fn codecs(file: &Path) -> Vec<String> {
    let text = ffprobe(
        &["-show_entries", "stream=codec_name", "-of", "csv=p=0"],
        file,
    );
    text.lines()
        .take_while(|l| !l.is_empty())
        .map(|l| l.split(',').next().unwrap_or_default().to_owned())
        .collect()
}

/// Checks that the MP4 files hold the source's packets from its first keyframe on, byte
/// for byte, at the source's times (each file rebased to its own start).
pub fn check_mp4s(ffmpeg: &Path, source: &[Vec<(i64, String)>], mp4s: &[PathBuf]) {
    let start = source[0][0].0;
    let mut recorded: Vec<Vec<(i64, String)>> = vec![Vec::new(), Vec::new()];
    for f in mp4s {
        let streams = crcs(ffmpeg, f);
        // The file's first video packet is the source packet with its CRC.
        let first = &streams[0][0];
        let origin = source[0]
            .iter()
            .find(|p| p.1 == first.1)
            .expect("video packet")
            .0;
        for (i, packets) in streams.iter().enumerate() {
            recorded[i].extend(
                packets
                    .iter()
                    .map(|(dts, crc)| (dts - first.0 + origin, crc.clone())),
            );
        }
    }
    for (i, packets) in source.iter().enumerate() {
        let expected: Vec<_> = packets.iter().filter(|p| p.0 >= start).cloned().collect();
        assert_eq!(
            recorded[i], expected,
            "stream {i}: MP4 packets differ from the source"
        );
    }
}

/// Checks that the streams of the MP4 files hold the source's streams, every one, packet
/// for packet from where each starts in the first file, at the source's times (one
/// offset per file).
pub fn check_every_track(ffmpeg: &Path, source: &[Vec<(i64, String)>], mp4s: &[PathBuf]) {
    let mut recorded: Vec<Vec<(i64, String)>> = vec![Vec::new(); source.len()];
    for f in mp4s {
        let streams = crcs(ffmpeg, f);
        let first = &streams[0][0];
        let origin = source[0]
            .iter()
            .find(|p| p.1 == first.1)
            .expect("video packet")
            .0;
        for (i, packets) in streams.iter().enumerate() {
            let head = &packets[0].1;
            let k = source
                .iter()
                .position(|s| s.iter().any(|p| &p.1 == head))
                .unwrap_or_else(|| panic!("{}: stream {i} is no source stream", f.display()));
            recorded[k].extend(
                packets
                    .iter()
                    .map(|(dts, crc)| (dts - first.0 + origin, crc.clone())),
            );
        }
    }
    for (k, packets) in recorded.iter().enumerate() {
        let head = &packets
            .first()
            .unwrap_or_else(|| panic!("source {k}: not recorded"))
            .1;
        let start = source[k].iter().position(|p| &p.1 == head).unwrap();
        assert_eq!(packets[..], source[k][start..], "source stream {k}");
    }
}

/// Pushes FLV file `source` to `url` in real time with FFmpeg 9, packets as they are.
pub fn push_with(ffmpeg: &Path, source: &Path, url: &str) {
    let pushed = Command::new(ffmpeg)
        .args(["-v", "error", "-re", "-i"])
        .arg(source)
        .args(["-c", "copy", "-f", "flv"])
        .arg(url)
        .status()
        .unwrap();
    assert!(
        pushed.success(),
        "FFmpeg 9's push of {} failed",
        source.display()
    );
}

/// Checks that the FLV files hold every packet of the source's two streams, as sent.
pub fn check_flvs(ffmpeg: &Path, source: &[Vec<(i64, String)>], flvs: &[PathBuf]) {
    let mut recorded: Vec<Vec<(i64, String)>> = vec![Vec::new(), Vec::new()];
    for f in flvs {
        for (i, packets) in crcs(ffmpeg, f).into_iter().enumerate() {
            recorded[i].extend(packets);
        }
    }
    assert_eq!(recorded, source, "FLV packets differ from what was sent");
}
