//! Enhanced RTMP HEVC FLV built from libx265 Annex B output (shared by the remux and
//! data-plane tests).

use std::path::Path;
use std::process::Command;

/// Encodes `seconds` of a 320×180, 25 fps test signal with libx265 (a keyframe every
/// second, no B-frames, access unit delimiters) into the Annex B file `raw`.
pub fn x265(raw: &Path, seconds: u32) {
    let made = Command::new("ffmpeg")
        .args([
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=320x180:rate=25",
        ])
        .args(["-t", &seconds.to_string(), "-c:v", "libx265"])
        .args([
            "-x265-params",
            "keyint=25:bframes=0:aud=1:log-level=error",
            "-f",
            "hevc",
        ])
        .arg(raw)
        .status()
        .unwrap();
    assert!(made.success(), "libx265 encoding failed");
}

/// Publishes `flv` to the RTMP `url` with liverec's own publisher (rml_rtmp's client
/// session, in real time); returns its JSON summary.
pub fn publish_flv(flv: &Path, url: &str) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_liverec"))
        .args(["bench", "publish", "--streams", "1", "--input"])
        .arg(flv)
        .args(["--url", url])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Splits an Annex B stream into NAL units.
pub fn annex_b_nals(data: &[u8]) -> Vec<&[u8]> {
    let mut starts = Vec::new();
    let mut i = 0;
    while i + 3 <= data.len() {
        if data[i] == 0 && data[i + 1] == 0 && data[i + 2] == 1 {
            starts.push(i + 3);
            i += 3;
        } else {
            i += 1;
        }
    }
    starts
        .iter()
        .enumerate()
        .map(|(k, &s)| {
            let mut end = starts.get(k + 1).map_or(data.len(), |n| n - 3);
            while end > s && data[end - 1] == 0 {
                end -= 1;
            }
            &data[s..end]
        })
        .collect()
}

/// Builds an Enhanced RTMP HEVC FLV (FourCC `hvc1`: SequenceStart, then CodedFramesX)
/// from libx265's Annex B output, as an OBS-style publisher sends it. Debian's ffmpeg 5.1
/// cannot write HEVC into FLV, so the tags are made here. Returns the frame count.
pub fn enhanced_hevc_flv(hevc: &Path, out: &Path) -> usize {
    hevc_flv(hevc, out, false)
}

/// Like [`enhanced_hevc_flv`], or with `legacy` the non-standard CodecID 12 tags some
/// Chinese CDNs and OBS forks send (`FrameType|12`, AVCPacketType, composition time).
pub fn hevc_flv(hevc: &Path, out: &Path, legacy: bool) -> usize {
    use liverec::formats::flv::demux::{write_header, write_tag};
    use liverec::formats::flv::video::{enhanced_header, VideoCodec, VideoPacketKind};
    let data = std::fs::read(hevc).unwrap();
    let nal_type = |n: &[u8]| (n[0] >> 1) & 0x3F;
    let mut units: Vec<Vec<&[u8]>> = Vec::new();
    for nal in annex_b_nals(&data) {
        if nal_type(nal) == 35 || units.is_empty() {
            units.push(Vec::new());
        }
        units.last_mut().unwrap().push(nal);
    }
    let mut record = vec![1u8];
    record.extend_from_slice(&[0; 20]);
    record.push(0xFC | 3);
    let sets: Vec<&[u8]> = units[0]
        .iter()
        .copied()
        .filter(|n| (32..=34).contains(&nal_type(n)))
        .collect();
    record.push(sets.len() as u8);
    for set in &sets {
        record.extend_from_slice(&[0x80 | nal_type(set), 0, 1]);
        record.extend_from_slice(&(set.len() as u16).to_be_bytes());
        record.extend_from_slice(set);
    }
    let mut flv = Vec::new();
    write_header(&mut flv, false, true);
    let mut body = if legacy {
        vec![0x1C, 0, 0, 0, 0]
    } else {
        enhanced_header(VideoCodec::Hevc, VideoPacketKind::SequenceHeader, true, 0)
    };
    body.extend_from_slice(&record);
    write_tag(&mut flv, 9, 0, &body);
    for (i, unit) in units.iter().enumerate() {
        let keyframe = unit.iter().any(|n| (16..=21).contains(&nal_type(n)));
        let mut body = if legacy {
            vec![if keyframe { 0x1C } else { 0x2C }, 1, 0, 0, 0]
        } else {
            let mut b = enhanced_header(VideoCodec::Hevc, VideoPacketKind::Frames, keyframe, 0);
            b[0] = (b[0] & 0xF0) | 3; // CodedFramesX: no composition time
            b.truncate(5);
            b
        };
        for nal in unit.iter().filter(|n| !(32..=35).contains(&nal_type(n))) {
            body.extend_from_slice(&(nal.len() as u32).to_be_bytes());
            body.extend_from_slice(nal);
        }
        write_tag(&mut flv, 9, (i * 40) as u32, &body);
    }
    std::fs::write(out, flv).unwrap();
    units.len()
}
