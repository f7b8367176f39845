//! Entry points shared by the fuzz targets (`tests/fuzz`, cargo-fuzz) and the replay of
//! their seed corpora under plain `cargo test` (`tests/fuzz_corpus.rs`). Each takes
//! arbitrary bytes and must never panic; what it returns is irrelevant.

use serde_json::Value;

use crate::config::naming::{self, NameInputs};
use crate::config::push_auth::{self, PushCredentials};
use crate::config::rule::validate_rule_request;
use crate::config::task::validate_task;
use crate::config::template::{validate_template, TemplateIdField};
use crate::formats::hls::clip::{clip, ClipTime};
use crate::formats::hls::splice::{splice, GapPolicy, SpliceOptions};
use crate::formats::hls::{inspect, validate, Micros, Playlist};

/// JSON request bodies through every validator.
pub fn request_json(data: &[u8]) {
    let Ok(value) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let _ = validate_template(&value, TemplateIdField::Allowed);
    let _ = validate_template(&value, TemplateIdField::Forbidden);
    let _ = validate_rule_request(&value);
    let _ = validate_task(&value, 1_800_000_000);
}

/// `VodFileName` patterns and stream names: the first line is the pattern, the rest
/// the stream name; two leading bytes vary the times and offset.
pub fn vod_file_name(data: &[u8]) {
    let (head, rest) = data.split_at(data.len().min(2));
    let text = String::from_utf8_lossy(rest);
    let (pattern, stream) = text.split_once('\n').unwrap_or((&text, ""));
    let seed = head.iter().fold(0i64, |acc, b| acc * 256 + i64::from(*b));
    let _ = naming::validate_pattern(pattern);
    let inputs = NameInputs {
        stream_id: stream,
        start_ms: seed * 1_000_003,
        end_ms: seed * 1_000_003 + seed,
        utc_offset_minutes: (seed % 1_800) as i32 - 900,
    };
    if let Ok(name) = naming::render(pattern, &inputs) {
        assert!(
            name.len() <= naming::MAX_FILE_NAME_BYTES,
            "name too long: {name:?}"
        );
        assert!(
            !name.contains('/') && !name.contains('\\') && !name.contains(".."),
            "unsafe name: {name:?}"
        );
        assert!(
            !name.chars().any(char::is_control),
            "control character in {name:?}"
        );
    }
}

/// Push authentication with hostile txTime / txSecret text.
pub fn push_auth(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.splitn(3, '\n');
    let (tx_time, tx_secret, stream) = (
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
    );
    let _ = push_auth::parse_tx_time(tx_time);
    let keys = vec!["k".to_owned(), String::new()];
    let creds = PushCredentials {
        keys: &keys,
        auth_delta_s: i64::MAX,
        stream_name: stream,
        tx_secret,
        tx_time,
    };
    let _ = push_auth::verify_push(&creds, i64::MAX);
}

/// HLS playlist text: parse, write, parse again (must be identical), then every operation.
pub fn playlist(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(parsed) = Playlist::parse(text) else {
        return;
    };
    let written = parsed.to_text();
    let reparsed = Playlist::parse(&written);
    assert!(reparsed.is_ok(), "written playlist does not parse");
    if let Ok(again) = reparsed {
        assert_eq!(again.to_text(), written, "write is not stable");
        assert_eq!(
            again.segments(),
            parsed.segments(),
            "structure changed on round trip"
        );
    }
    let _ = validate(&parsed);
    let _ = inspect(&parsed);
    let parsed = parsed.with_base_url(Some("http://h/a/b/index.m3u8".to_owned()));
    for (start, end) in [(0, None), (1_500_000, Some(4_000_000))] {
        let _ = clip(
            &parsed,
            ClipTime::Offset(Micros(start)),
            end.map(|e| ClipTime::Offset(Micros(e))),
        );
    }
    let _ = clip(&parsed, ClipTime::WallClockMs(1_704_067_201_000), None);
    let options = SpliceOptions {
        gaps: GapPolicy::GapSegments,
        ..SpliceOptions::default()
    };
    if let Ok((spliced, _)) = splice(&[&parsed, &parsed], options) {
        let round = Playlist::parse(&spliced.to_text()).map(|p| p.to_text());
        assert_eq!(
            round.ok(),
            Some(spliced.to_text()),
            "spliced output does not round-trip"
        );
    }
}

/// FLV bytes through the demuxer (whole and split in two at a byte the data chooses) and
/// the frame reader; both feeds must give the same tags.
pub fn flv_demux(data: &[u8]) {
    use crate::formats::flv::{FlvDemuxer, FrameReader};
    let read = |chunks: &[&[u8]]| {
        let mut demuxer = FlvDemuxer::new();
        let mut tags = Vec::new();
        for chunk in chunks {
            demuxer.push(chunk);
            while let Ok(Some(tag)) = demuxer.pull() {
                tags.push(tag);
            }
        }
        let _ = demuxer.finish();
        tags
    };
    let whole = read(&[data]);
    let (a, b) = split_by_first_byte(data);
    assert_eq!(read(&[a, b]), whole, "split feed differs");
    let mut reader = FrameReader::default();
    use crate::record::Segmenter;
    let mut segmenter = crate::record::ts::TsSegmenter::new(Some(1000));
    let mut flv = crate::record::flv::FlvWriter::new(Some(1000), 2, false, false);
    let mut mp4 = crate::record::mp4::Mp4Segmenter::new(Some(1000));
    let mut fmp4 = crate::record::fmp4::Fmp4Segmenter::new(Some(1000));
    let (mut ts_out, mut flv_out, mut mp4_out) = (Vec::new(), Vec::new(), Vec::new());
    let mut fmp4_out = Vec::new();
    for tag in &whole {
        for event in reader.push_tag(tag) {
            segmenter.push(&event, &mut ts_out);
            mp4.push(&event, &mut mp4_out);
            fmp4.push(&event, &mut fmp4_out);
        }
        flv.push(tag, &mut flv_out);
    }
    segmenter.finish(&mut ts_out);
    mp4.finish(&mut mp4_out);
    fmp4.finish(&mut fmp4_out);
    fmp4_segments_read_back(&fmp4_out);
    flv.finish(&mut flv_out);
    mp4_files_finish(mp4_out);
    for event in &ts_out {
        if let crate::record::SegmentEvent::Data(bytes) = event {
            assert_eq!(bytes.len() % 188, 0, "transport packets are 188 bytes");
        }
    }
}

/// The MP4 finish must take whatever the segmenter wrote.
fn mp4_files_finish(mp4_out: Vec<crate::record::SegmentEvent>) {
    let mut file = Vec::new();
    for event in mp4_out {
        match event {
            crate::record::SegmentEvent::Data(bytes) => file.extend_from_slice(&bytes),
            crate::record::SegmentEvent::FinishMp4(finish) => {
                let done = crate::formats::mp4::progressive::finish_in_memory(
                    std::mem::take(&mut file),
                    *finish,
                );
                assert!(done.is_ok(), "MP4 finish failed: {done:?}");
            }
            crate::record::SegmentEvent::Open { .. } => file.clear(),
            crate::record::SegmentEvent::Close(_)
            | crate::record::SegmentEvent::Refused(..)
            | crate::record::SegmentEvent::Init { .. } => {}
        }
    }
}

/// Every fMP4 HLS segment reads back with its initialization section.
fn fmp4_segments_read_back(events: &[crate::record::SegmentEvent]) {
    use crate::formats::mp4::fragments::segment_samples;
    use crate::record::SegmentEvent;
    let (mut init, mut segment) = (Vec::new(), Vec::new());
    for event in events {
        match event {
            SegmentEvent::Init { bytes, .. } => init = bytes.to_vec(),
            SegmentEvent::Open { .. } => segment.clear(),
            SegmentEvent::Data(bytes) => segment.extend_from_slice(bytes),
            SegmentEvent::Close(info) => {
                let read = segment_samples(&init, &segment, 0, 0);
                assert!(read.is_ok(), "fMP4 segment {}: {read:?}", info.index);
            }
            _ => {}
        }
    }
}

/// AMF0 bytes through the decoder; whatever decodes must re-encode and decode the same.
pub fn amf0(data: &[u8]) {
    use crate::formats::flv::amf0::{decode_all, encode};
    if let Ok(values) = decode_all(data) {
        let mut bytes = Vec::new();
        for v in &values {
            encode(&mut bytes, v);
        }
        let again = decode_all(&bytes);
        assert!(again.is_ok(), "re-encoded AMF0 does not decode");
        if let Ok(again) = again {
            assert_eq!(again.len(), values.len());
        }
    }
}

/// FLV bytes as a live push: every tag through a [`PushSession`] recording all four
/// formats (1 s files), a task output added mid-push from a replay of the tags so far and
/// stopped again, then the push ended and its parked HLS recording continued by a second
/// push and finalised. Checks the session's bookkeeping: every file opened is closed.
pub fn push_session(data: &[u8]) {
    use crate::config::template::Format;
    use crate::record::session::{OutputSpec, PushSession};
    let inputs = flv_inputs(data);
    let spec = |format: Format, task: &str| OutputSpec {
        format,
        interval_ms: (format != Format::Hls).then_some(1000),
        vod_file_name: "{StreamID}_{StartSecond}".into(),
        task_id: task.into(),
        template_id: 1,
        storage_time_s: 0,
        flow_continue_s: 5,
        ends_at_ms: None,
        recording_id: format!("r{task}{format:?}"),
        hls_segments: crate::record::session::HlsSegments::Auto,
    };
    let outputs = [Format::Flv, Format::Hls, Format::Mp4, Format::Aac]
        .map(|f| spec(f, ""))
        .to_vec();
    let mut session = PushSession::new("fuzz", outputs, Vec::new());
    let mut actions = Vec::new();
    let half = inputs.len() / 2;
    for (i, input) in inputs.iter().enumerate() {
        let now = 1_800_000_000_000 + i as i64 * 10;
        session.push(input, now, &mut actions);
        if i == half {
            let replay = frames_of(inputs.get(..i).unwrap_or_default());
            session.add_output(spec(Format::Hls, "task"), &replay, now, &mut actions);
        }
    }
    let end = 1_800_000_000_000 + inputs.len() as i64 * 10;
    session.stop_task("task", end, &mut actions);
    let parked = session.finish(end, &mut actions);
    let mut resumed = PushSession::new("fuzz", Vec::new(), parked);
    for input in inputs.iter().take(8) {
        resumed.push(input, 1_900_000_000_000, &mut actions);
    }
    for hls in resumed.finish(1_900_000_000_000, &mut actions) {
        let (_, text) = hls.finalize();
        assert!(text.ends_with("#EXT-X-ENDLIST\n"));
    }
    assert_opened_once_closed_once(&actions);
    let _ = crate::config::push_url::push_domain(
        &String::from_utf8_lossy(data.get(..64).unwrap_or(data)),
        &String::from_utf8_lossy(data),
        "d.example",
    );
}

/// FLV bytes through the FLV input adapter, as a push hands them to its session.
fn flv_inputs(data: &[u8]) -> Vec<crate::media::Input> {
    let mut demuxer = crate::formats::flv::FlvDemuxer::new();
    demuxer.push(data);
    let mut ingest = crate::formats::flv::ingest::FlvIngest::default();
    let mut inputs = Vec::new();
    while let Ok(Some(tag)) = demuxer.pull() {
        inputs.push(ingest.push_tag(&tag));
        inputs.extend(std::iter::from_fn(|| ingest.take_more()));
    }
    inputs
}

/// The frames among `inputs` (a GOP replay).
fn frames_of(inputs: &[crate::media::Input]) -> Vec<crate::media::Frame> {
    inputs
        .iter()
        .filter_map(|input| match input {
            crate::media::Input::Frame(f) => Some(f.clone()),
            _ => None,
        })
        .collect()
}

/// Every file a session opened, it closed once, and it closed no other.
fn assert_opened_once_closed_once(actions: &[crate::record::session::Action]) {
    use crate::record::session::Action;
    let mut open = std::collections::HashSet::new();
    for action in actions {
        match action {
            Action::Open(f) => assert!(open.insert(*f), "{f:?} opened twice"),
            Action::Close(f, _) => assert!(open.remove(f), "{f:?} closed but not open"),
            _ => {}
        }
    }
}

/// RTMP chunk streams through the demultiplexer, whole and split at a point the first
/// byte picks: the same messages either way, and none longer than announced.
pub fn rtmp_chunks(data: &[u8]) {
    use crate::formats::rtmp::{ChunkDemux, Limits, Message};
    let read = |pieces: &[&[u8]]| -> (Vec<Message>, bool) {
        let mut demux = ChunkDemux::new(Limits {
            max_chunk_size: 65_536,
            max_assembly_bytes: 1 << 20,
        });
        let mut messages = Vec::new();
        for piece in pieces {
            let mut input = *piece;
            loop {
                match demux.pull(&mut input) {
                    Ok(Some(message)) => messages.push(message),
                    Ok(None) => break,
                    Err(_) => return (messages, false),
                }
            }
        }
        (messages, true)
    };
    let whole = read(&[data]);
    let (a, b) = split_by_first_byte(data);
    assert_eq!(read(&[a, b]), whole, "split feed differs");
}

/// `data` cut in two at a point its first byte picks (a stream parser must read both
/// halves as it reads the whole).
fn split_by_first_byte(data: &[u8]) -> (&[u8], &[u8]) {
    let cut = data
        .first()
        .map_or(0, |b| usize::from(*b) * data.len() / 256);
    data.split_at(cut.min(data.len()))
}
