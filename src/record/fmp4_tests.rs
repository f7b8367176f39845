use super::*;
use crate::formats::codec::aac::parse_audio_specific_config;
use crate::formats::codec::av1::parse_av1_config;
use crate::formats::codec::opus::parse_opus_head;
use crate::formats::mp4::fragments::{init_moov, segment_samples};
use crate::formats::mp4::test_support::avc;

fn av1() -> VideoConfig {
    VideoConfig::Av1(parse_av1_config(&[0x81, 0x00, 0x0c, 0x00, 0x0a, 0x0b]).unwrap())
}

fn opus() -> FrameEvent {
    let mut head = b"OpusHead".to_vec();
    head.extend_from_slice(&[1, 2, 0x38, 0x01, 0x80, 0xBB, 0, 0, 0, 0, 0]);
    FrameEvent::OpusConfig {
        config: parse_opus_head(&head).unwrap(),
        changed: false,
    }
}

fn aac() -> FrameEvent {
    FrameEvent::AudioConfig {
        config: parse_audio_specific_config(&[0x11, 0x90]).unwrap(),
        changed: false,
    }
}

fn video_config(config: VideoConfig, changed: bool) -> FrameEvent {
    FrameEvent::VideoConfig { config, changed }
}

fn frame(track: Track, dts: i64, key: bool, byte: u8) -> FrameEvent {
    FrameEvent::Frame(MediaFrame {
        track,
        dts_ms: dts,
        pts_ms: dts + if track == Track::Video { 40 } else { 0 },
        keyframe: key,
        data: if track == Track::Video {
            // One length-prefixed NAL unit (MPEG-TS needs it; fMP4 keeps it as is).
            let mut nal = vec![0, 0, 0, 46, 0x65];
            nal.resize(50, byte);
            nal.into()
        } else {
            vec![byte; 50].into()
        },
        offset: 0,
    })
}

/// 30 fps video with a keyframe every 2 s and 20 ms audio frames, `from..to` ms.
fn av(from: i64, to: i64) -> Vec<FrameEvent> {
    let mut events = Vec::new();
    for t in (from..to).step_by(10) {
        if t % 40 == 0 {
            events.push(frame(Track::Video, t, t % 2000 == 0, 1));
        }
        if t % 20 == 0 {
            events.push(frame(Track::Audio, t, true, 2));
        }
    }
    events
}

/// The files a segmenter wrote: (init index, bytes) and (segment info, bytes).
type Files = (Vec<(u32, Bytes)>, Vec<(SegmentInfo, Vec<u8>)>);

fn run(segmenter: &mut dyn Segmenter, events: &[FrameEvent]) -> (Files, Vec<SegmentEvent>) {
    let mut out = Vec::new();
    for e in events {
        segmenter.push(e, &mut out);
    }
    segmenter.finish(&mut out);
    let (mut inits, mut segments, mut open) = (Vec::new(), Vec::new(), Vec::new());
    for e in &out {
        match e {
            SegmentEvent::Init { index, bytes } => inits.push((*index, bytes.clone())),
            SegmentEvent::Open { .. } => open.clear(),
            SegmentEvent::Data(d) => open.extend_from_slice(d),
            SegmentEvent::Close(info) => segments.push((info.clone(), std::mem::take(&mut open))),
            _ => {}
        }
    }
    ((inits, segments), out)
}

#[test]
fn av1_and_opus_become_fmp4_segments_with_their_timestamps() {
    let mut events = vec![video_config(av1(), false), opus()];
    events.extend(av(0, 13_000));
    let ((inits, segments), _) = run(&mut Fmp4Segmenter::new(Some(6000)), &events);
    assert_eq!(inits.len(), 1);
    let moov = init_moov(&inits[0].1).unwrap();
    assert_eq!(moov.trak.len(), 2);
    let spans: Vec<(i64, i64)> = segments
        .iter()
        .map(|(i, _)| (i.start_ms, i.end_ms))
        .collect();
    assert_eq!(spans, [(0, 6000), (6000, 12_000), (12_000, 13_000)]);
    for (info, bytes) in &segments {
        assert_eq!(&bytes[4..8], b"moof");
        assert_eq!(info.bytes, bytes.len() as u64);
        let (_, piece) = segment_samples(&inits[0].1, bytes, 0, info.start_ms).unwrap();
        assert_eq!(
            piece.video.first().map(|s| (s.dts_ms, s.sync)),
            Some((info.start_ms, true))
        );
        let video_dts: Vec<i64> = piece.video.iter().map(|s| s.dts_ms).collect();
        let want: Vec<i64> = (info.start_ms..info.end_ms.min(13_000))
            .step_by(40)
            .collect();
        assert_eq!(video_dts, want, "decode times unchanged");
        assert!(piece.video.iter().all(|s| s.cts_ms == 40));
        assert_eq!(info.frames as usize, piece.video.len() + piece.audio.len());
    }
}

#[test]
fn a_codec_change_sends_a_new_initialization_section_and_a_discontinuity() {
    let mut events = vec![video_config(avc(), false), aac()];
    events.extend(av(0, 3000));
    events.push(video_config(av1(), true));
    events.extend(av(3000, 5000));
    let ((inits, segments), _) = run(&mut Fmp4Segmenter::new(Some(6000)), &events);
    let indexes: Vec<u32> = inits.iter().map(|(i, _)| *i).collect();
    assert_eq!(indexes, [0, 1]);
    let flags: Vec<(i64, bool)> = segments
        .iter()
        .map(|(i, _)| (i.start_ms, i.discontinuity))
        .collect();
    assert_eq!(flags, [(0, false), (4000, true)]);
    let first = init_moov(&inits[0].1).unwrap();
    let second = init_moov(&inits[1].1).unwrap();
    assert_ne!(first, second);
}

#[test]
fn auto_picks_mpeg_ts_for_h264_and_fmp4_when_opus_comes_after_the_first_frame() {
    let mut events = vec![video_config(avc(), false), aac()];
    events.extend(av(0, 3000));
    let ((inits, segments), out) = run(&mut AutoSegmenter::new(Some(6000)), &events);
    assert!(inits.is_empty());
    assert_eq!(segments[0].1[0], 0x47, "MPEG-TS");
    assert!(!out.iter().any(|e| matches!(e, SegmentEvent::Refused(..))));

    let mut events = vec![video_config(avc(), false)];
    events.push(frame(Track::Video, 0, true, 1));
    events.push(opus());
    events.extend(av(40, 3000));
    let ((inits, segments), _) = run(&mut AutoSegmenter::new(Some(6000)), &events);
    assert_eq!(inits.len(), 1);
    assert_eq!(&segments[0].1[4..8], b"moof");
    let (tracks, piece) = segment_samples(&inits[0].1, &segments[0].1, 0, 0).unwrap();
    assert!(tracks.opus.is_some() && tracks.video.is_some());
    assert_eq!(
        piece.video.first().map(|s| s.dts_ms),
        Some(0),
        "nothing lost waiting"
    );
}

#[test]
fn auto_decides_alone_for_video_without_audio() {
    let mut events = vec![video_config(av1(), false)];
    events.extend((0..100).map(|i| frame(Track::Video, i * 40, i % 50 == 0, 1)));
    let ((inits, segments), _) = run(&mut AutoSegmenter::new(Some(6000)), &events);
    assert_eq!(inits.len(), 1);
    assert_eq!(segments.len(), 1);
    assert_eq!(segments[0].0.frames, 100);
}

#[test]
fn mp3_is_recorded_from_its_frame_headers() {
    let mut events = vec![video_config(av1(), false)];
    // (MP3 has no configuration to announce it: the first segment carries it when an
    // audio frame comes before the first keyframe.)
    for i in 0..50 {
        events.push(FrameEvent::Frame(MediaFrame {
            track: Track::Audio,
            dts_ms: i * 40,
            pts_ms: i * 40,
            keyframe: true,
            data: vec![0xFF, 0xFB, 0x54, 0xC4].into(),
            offset: 0,
        }));
        events.push(frame(Track::Video, i * 40, i == 0, 1));
    }
    let mut segmenter = Fmp4Segmenter::new(Some(6000));
    let ((inits, segments), _) = run(&mut segmenter, &events);
    let (tracks, piece) = segment_samples(&inits[0].1, &segments[0].1, 0, 0).unwrap();
    let entry = tracks.entry.expect("an MP3 track");
    assert_eq!((entry.name(), entry.sample_rate()), ("mp3", 48_000));
    // The audio frame before the first keyframe waits out (segments start at one).
    assert_eq!((piece.video.len(), piece.audio.len()), (50, 49));
    assert_eq!(segmenter.dropped(), 1);
}
