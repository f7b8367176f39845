//! Enhanced RTMP v2 (Veovera) pushed by FFmpeg 9.0.2 to `liverec serve`: AV1, VP9 and
//! HEVC with Opus; AC-3, E-AC-3, FLAC and MP3 audio; multitrack pushes; kill -9 during
//! an AV1 recording — recorded to MP4, FLV and fMP4 HLS with the packets as sent.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::ffmpeg9::*;
use common::recording::*;
use common::{temp_dir, Server};

#[tokio::test(flavor = "multi_thread")]
async fn enhanced_rtmp_av1_vp9_hevc_with_opus_are_recorded() {
    let ffmpeg = ffmpeg9();
    let dir = temp_dir("in-ertmp");
    let cfg = config(&dir, "");
    let server = Server::start_with(
        &dir.join("data"),
        None,
        &["--config", cfg.to_str().unwrap()],
    )
    .await;
    let cb = common::receiver(0).await;
    configure(&server, all_formats(), 0, None).await;
    callbacks(
        &server,
        &cb,
        &["RecordNotifyUrl", "RecordExceptionNotifyUrl"],
    )
    .await;
    let cases: [(&str, &[&str], &str); 3] = [
        ("av1", &["-c:v", "libsvtav1", "-preset", "12"], "av1"),
        (
            "vp9",
            &[
                "-c:v",
                "libvpx-vp9",
                "-deadline",
                "realtime",
                "-cpu-used",
                "8",
            ],
            "vp9",
        ),
        (
            "hevc",
            &[
                "-c:v",
                "libx265",
                "-preset",
                "ultrafast",
                "-x265-params",
                "log-level=error",
            ],
            "hevc",
        ),
    ];
    for (name, video, codec) in cases {
        let source = dir.join(format!("{name}.flv"));
        enhanced_flv(&ffmpeg, video, &source);
        push_with(&ffmpeg, &source, &server.rtmp("live", name));
        tokio::time::sleep(Duration::from_millis(500)).await;
        let stream = stream_dir(&server, name);
        let sent = crcs(&ffmpeg, &source);
        // FLV: the tags as received (enhanced FLV), every packet at its time.
        check_flvs(&ffmpeg, &sent, &files(&stream, "flv"));
        // MP4: both tracks, playable, the packets unchanged.
        let mp4s = files(&stream, "mp4");
        assert!(!mp4s.is_empty(), "{name}: no MP4");
        for f in &mp4s {
            assert_eq!(codecs(f), [codec, "opus"], "{}", f.display());
            decodes_with(&ffmpeg, f);
        }
        check_mp4s(&ffmpeg, &sent, &mp4s);
        // HLS: fMP4 segments (MPEG-TS cannot carry them), playable, packets unchanged.
        let playlists = files(&stream, "m3u8");
        assert_eq!(playlists.len(), 1, "{name}: {playlists:?}");
        let text = std::fs::read_to_string(&playlists[0]).unwrap();
        assert!(
            text.contains("#EXT-X-MAP:URI=") && text.contains(".m4s\n"),
            "{name}: {text}"
        );
        assert_eq!(codecs(&playlists[0]), [codec, "opus"], "{name}: HLS");
        decodes_with(&ffmpeg, &playlists[0]);
        check_mp4s(&ffmpeg, &sent, &playlists);
        // No .aac from Opus (no re-encoding).
        assert!(
            files(&stream, "aac").is_empty(),
            "{name}: Opus written as AAC"
        );
    }
    // One "no audio" exception per push from the AAC output, none stopping anything.
    let exceptions = cb.wait_for(341, 3, Duration::from_secs(10)).await;
    let aac: Vec<_> = exceptions
        .iter()
        .filter(|e| e["file_format"] == "aac")
        .collect();
    assert_eq!(aac.len(), 3, "{exceptions:?}");
    for e in aac {
        assert_eq!(e["exception"]["type"], -17);
        assert_eq!(e["exception_level"], "warning");
    }
    server.stop();
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_during_an_av1_opus_recording_recovers_a_playable_mp4_and_fmp4_hls() {
    let ffmpeg = ffmpeg9();
    let dir = temp_dir("in-ertmp-crash");
    let data = dir.join("data");
    let cfg = config(&dir, "");
    let args = ["--config", cfg.to_str().unwrap()];
    let server = Server::start_with(&data, None, &args).await;
    let formats = serde_json::json!({"Mp4Param": {"Enable": 1, "RecordInterval": 60},
        "HlsParam": {"Enable": 1}});
    configure(&server, formats, 0, None).await;
    // 60 s of AV1 + Opus, pushed in real time; the server dies 3.5 s in.
    let source = dir.join("av1.flv");
    let made = Command::new(&ffmpeg)
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
            "sine=sample_rate=48000",
            "-t",
            "60",
            "-g",
            "25",
        ])
        .args([
            "-c:v",
            "libsvtav1",
            "-preset",
            "12",
            "-c:a",
            "libopus",
            "-f",
            "flv",
            "-y",
        ])
        .arg(&source)
        .output()
        .unwrap();
    assert!(made.status.success());
    let mut pusher = Command::new(&ffmpeg)
        .args(["-v", "quiet", "-re", "-i"])
        .arg(&source)
        .args(["-c", "copy", "-f", "flv"])
        .arg(server.rtmp("live", "crash"))
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(3_500)).await;
    server.kill9();
    let _ = pusher.kill();
    let _ = pusher.wait();
    let restarted = Server::start_with(&data, None, &args).await;
    let stream = stream_dir(&restarted, "crash");
    let deadline = Instant::now() + Duration::from_secs(20);
    while files(&stream, "mp4").is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Wait for the recovered one (the files cut every 2 s before the crash come first).
    let mut recovered = files(&stream, "mp4");
    while recovered.len() < 2 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
        recovered = files(&stream, "mp4");
    }
    assert!(recovered.len() >= 2, "{recovered:?}");
    let mut seconds = 0.0;
    for f in &recovered {
        assert_eq!(codecs(f), ["av1", "opus"], "{}", f.display());
        decodes_with(&ffmpeg, f);
        seconds += duration(f);
    }
    assert!(
        (2.0..=4.0).contains(&seconds),
        "{seconds} s recorded of ~3.5 s"
    );
    // The HLS recording: its open fMP4 segment cut after its last complete fragment and
    // listed after its initialization section, the playlist finalised.
    let mut playlists = files(&stream, "m3u8");
    while playlists.is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
        playlists = files(&stream, "m3u8");
    }
    assert_eq!(playlists.len(), 1, "{playlists:?}");
    let text = std::fs::read_to_string(&playlists[0]).unwrap();
    assert!(
        text.contains("#EXT-X-MAP:URI=") && text.contains("#EXT-X-ENDLIST"),
        "{text}"
    );
    assert_eq!(codecs(&playlists[0]), ["av1", "opus"]);
    decodes_with(&ffmpeg, &playlists[0]);
    let hls_seconds = duration(&playlists[0]);
    assert!(
        (2.0..=4.0).contains(&hls_seconds),
        "{hls_seconds} s of HLS recovered of ~3.5 s\n{text}"
    );
    restarted.stop();
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_multitrack_push_records_every_track_in_mp4_and_the_default_ones_elsewhere() {
    let ffmpeg = ffmpeg9();
    let dir = temp_dir("in-multitrack");
    let cfg = config(&dir, "");
    let args = ["--config", cfg.to_str().unwrap()];
    let server = Server::start_with(&dir.join("data"), None, &args).await;
    configure(&server, all_formats(), 0, None).await;
    // Two video renditions and two audio languages: FFmpeg 9 sends the first of each as
    // plain tags and the others in Enhanced RTMP v2 multitrack packets (track 1).
    let source = dir.join("multi.flv");
    let made = Command::new(&ffmpeg)
        .args([
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=320x240:rate=25",
        ])
        .args(["-f", "lavfi", "-i", "testsrc2=size=160x120:rate=25"])
        .args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"])
        .args([
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=880:sample_rate=48000",
            "-t",
            "3",
        ])
        .args(["-map", "0:v", "-map", "1:v", "-map", "2:a", "-map", "3:a"])
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
        .args([
            "-c:a",
            "aac",
            "-metadata:s:a:0",
            "language=eng",
            "-metadata:s:a:1",
            "language=fra",
        ])
        .args(["-f", "flv", "-y"])
        .arg(&source)
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let pushed = Command::new(&ffmpeg)
        .args(["-v", "error", "-re", "-i"])
        .arg(&source)
        .args(["-map", "0", "-c", "copy", "-f", "flv"])
        .arg(server.rtmp("live", "multi"))
        .status()
        .unwrap();
    assert!(pushed.success());
    tokio::time::sleep(Duration::from_millis(500)).await;
    let stream = stream_dir(&server, "multi");
    let sent = crcs(&ffmpeg, &source);
    for ext in ["flv", "mp4", "aac", "m3u8"] {
        let list = files(&stream, ext);
        assert!(!list.is_empty(), "no {ext}");
        for f in &list {
            decodes(f);
        }
    }
    // The default video and audio tracks (the first of each), every packet of them.
    let mut recorded: Vec<Vec<(i64, String)>> = vec![Vec::new(), Vec::new()];
    for f in files(&stream, "flv") {
        for (i, packets) in crcs(&ffmpeg, &f).into_iter().enumerate() {
            recorded[i].extend(packets);
        }
    }
    assert_eq!(recorded[0], sent[0], "default video track");
    assert_eq!(recorded[1], sent[2], "default audio track");
    // MP4: every track — the default ones first, then the other rendition and language —
    // each with the source's packets, at the source's times.
    let mp4s = files(&stream, "mp4");
    for f in &mp4s {
        let size = ffprobe(
            &["-show_entries", "stream=width,height", "-of", "csv=p=0"],
            f,
        );
        assert_eq!(size.lines().next(), Some("320,240"), "default video first");
        // The default tracks, then the others in the order they first sent a frame.
        let mut found = codecs(f);
        found[2..].sort();
        assert_eq!(found, ["h264", "aac", "aac", "h264"], "{}", f.display());
        decodes_with(&ffmpeg, f);
    }
    check_every_track(&ffmpeg, &sent, &mp4s);
    server.stop();
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread")]
async fn ac3_eac3_flac_and_mp3_audio_are_recorded_where_the_format_carries_them() {
    let ffmpeg = ffmpeg9();
    let dir = temp_dir("in-ertmp-audio");
    let cfg = config(&dir, "");
    let args = ["--config", cfg.to_str().unwrap()];
    let server = Server::start_with(&dir.join("data"), None, &args).await;
    let cb = common::receiver(0).await;
    configure(&server, all_formats(), 0, None).await;
    callbacks(&server, &cb, &["RecordExceptionNotifyUrl"]).await;
    let video = [
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv420p",
    ];
    // (name, FFmpeg's audio encoder, the codec ffprobe names, HLS in fMP4 segments)
    let cases: [(&str, &[&str], &str, bool); 4] = [
        ("ac3", &["-c:a", "ac3"], "ac3", true),
        ("eac3", &["-c:a", "eac3"], "eac3", true),
        ("flac", &["-c:a", "flac"], "flac", true),
        ("mp3", &["-c:a", "libmp3lame", "-ar", "44100"], "mp3", false),
    ];
    for (name, audio, codec, fmp4) in cases {
        let source = dir.join(format!("{name}.flv"));
        enhanced_flv_with(&ffmpeg, &video, audio, &source);
        push_with(&ffmpeg, &source, &server.rtmp("live", name));
        tokio::time::sleep(Duration::from_millis(500)).await;
        let stream = stream_dir(&server, name);
        let sent = crcs(&ffmpeg, &source);
        check_flvs(&ffmpeg, &sent, &files(&stream, "flv"));
        // MP4: the audio in its own sample entry, from the first file on.
        let mp4s = files(&stream, "mp4");
        assert!(!mp4s.is_empty(), "{name}: no MP4");
        for f in &mp4s {
            assert_eq!(codecs(f), ["h264", codec], "{}", f.display());
            decodes_with(&ffmpeg, f);
        }
        check_mp4s(&ffmpeg, &sent, &mp4s);
        // HLS: fMP4 segments where MPEG-TS has no place for the codec.
        let playlists = files(&stream, "m3u8");
        assert_eq!(playlists.len(), 1, "{name}: {playlists:?}");
        let text = std::fs::read_to_string(&playlists[0]).unwrap();
        assert_eq!(text.contains("#EXT-X-MAP:URI="), fmp4, "{name}: {text}");
        assert_eq!(codecs(&playlists[0]), ["h264", codec], "{name}: HLS");
        decodes_with(&ffmpeg, &playlists[0]);
        if fmp4 {
            check_mp4s(&ffmpeg, &sent, &playlists);
        }
        assert!(files(&stream, "aac").is_empty(), "{name}: written as AAC");
    }
    // The AAC output says why it wrote nothing, once per push.
    let exceptions = cb.wait_for(341, 4, Duration::from_secs(10)).await;
    let aac: Vec<_> = exceptions
        .iter()
        .filter(|e| e["file_format"] == "aac")
        .collect();
    assert_eq!(aac.len(), 4, "{exceptions:?}");
    assert!(aac.iter().all(|e| e["exception"]["type"] == -17));
    server.stop();
    let _ = std::fs::remove_dir_all(dir);
}
