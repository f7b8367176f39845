//! The demuxer reads back what liverec's own muxer writes, split at any offset, and
//! never panics on garbage.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use bytes::Bytes;

use super::*;
use crate::formats::codec::aac::parse_audio_specific_config;
use crate::formats::codec::avc::parse_avc_config;
use crate::formats::mpegts::{annex_b_pieces, TsMuxer, TsTracks, TIMESTAMP_OFFSET_MS};
use crate::media::{MediaFrame, VideoConfig};

/// x264 baseline 320x180.
const SPS: [u8; 24] = [
    0x67, 0x42, 0xC0, 0x0D, 0xD9, 0x01, 0x41, 0x9F, 0x9E, 0x10, 0x00, 0x00, 0x03, 0x00, 0x10, 0x00,
    0x00, 0x03, 0x03, 0x20, 0xF1, 0x42, 0xA4, 0x80,
];
const PPS: [u8; 4] = [0x68, 0xCB, 0x83, 0xCB];

fn avc() -> VideoConfig {
    let mut record = vec![1, 0x42, 0xC0, 0x0D, 0xFF, 0xE1, 0, SPS.len() as u8];
    record.extend_from_slice(&SPS);
    record.extend_from_slice(&[1, 0, PPS.len() as u8]);
    record.extend_from_slice(&PPS);
    VideoConfig::Avc(parse_avc_config(&record).unwrap())
}

fn length_prefixed(nals: &[&[u8]]) -> Bytes {
    let mut out = Vec::new();
    for nal in nals {
        out.extend_from_slice(&(nal.len() as u32).to_be_bytes());
        out.extend_from_slice(nal);
    }
    Bytes::from(out)
}

/// Ten video frames (25 fps, a keyframe first and at 5, B-frame style PTS) and AAC
/// frames for the same time, from `t0` ms, interleaved by DTS.
fn frames(t0: i64) -> Vec<MediaFrame> {
    let mut out = Vec::new();
    for i in 0..10i64 {
        let key = i % 5 == 0;
        let mut nal = vec![if key { 0x65 } else { 0x41 }, 0x88];
        nal.extend((0..300 + i * 37).map(|b| (b % 251) as u8 | 1));
        out.push(MediaFrame {
            track: Track::Video,
            dts_ms: t0 + i * 40,
            pts_ms: t0 + i * 40 + if key { 0 } else { 80 },
            keyframe: key,
            data: length_prefixed(&[&[0x06, 0x05, 0x01, 0x80], &nal]),
            offset: 0,
        });
    }
    for i in 0..19i64 {
        out.push(MediaFrame {
            track: Track::Audio,
            dts_ms: t0 + i * 21,
            pts_ms: t0 + i * 21,
            keyframe: true,
            data: Bytes::from(vec![0x21 + i as u8; 100 + i as usize]),
            offset: 0,
        });
    }
    out.sort_by_key(|f| f.dts_ms);
    out
}

/// The frames muxed as one TS file by liverec's muxer.
fn muxed(frames: &[MediaFrame]) -> Vec<u8> {
    let video = avc();
    let audio = parse_audio_specific_config(&[0x11, 0x90]).unwrap();
    let mut mux = TsMuxer::new(TsTracks {
        video: Some(false),
        audio: Some(true),
    });
    let mut out = Vec::new();
    mux.write_tables(&mut out);
    for f in frames {
        let mut es = Vec::new();
        let adts = audio.adts_header(f.data.len()).unwrap();
        match f.track {
            Track::Video => assert!(annex_b_pieces(&video, &f.data, f.keyframe, &mut es)),
            Track::Audio => es.extend_from_slice(&[adts.as_slice(), &f.data]),
        }
        mux.write_frame(f, &es, &mut out);
    }
    out
}

fn demux_in_chunks(ts: &[u8], chunk: usize) -> Vec<Input> {
    let mut demuxer = TsDemuxer::new();
    let mut out = Vec::new();
    for piece in ts.chunks(chunk) {
        demuxer.push(piece, &mut out);
    }
    demuxer.finish(&mut out);
    out
}

fn frames_of(inputs: &[Input]) -> Vec<&Frame> {
    inputs
        .iter()
        .filter_map(|i| match i {
            Input::Frame(f) => Some(f),
            _ => None,
        })
        .collect()
}

#[test]
fn reads_back_what_the_muxer_writes_split_anywhere() {
    let sent = frames(1_000);
    let ts = muxed(&sent);
    let reference = demux_in_chunks(&ts, ts.len());
    for chunk in [1, 7, 187, 188, 189, 400] {
        assert_eq!(demux_in_chunks(&ts, chunk), reference, "chunk {chunk}");
    }
    let configs: Vec<&Config> = reference
        .iter()
        .filter_map(|i| match i {
            Input::Config(c) => Some(c.as_ref()),
            _ => None,
        })
        .collect();
    assert_eq!(configs.len(), 2, "{reference:?}");
    let Some(CodecConfig::Video(VideoConfig::Avc(v))) = configs
        .iter()
        .map(|c| &c.codec)
        .find(|c| matches!(c, CodecConfig::Video(_)))
    else {
        panic!("no video config: {configs:?}");
    };
    assert_eq!(
        (v.sps.as_slice(), v.pps.as_slice()),
        (&[SPS.to_vec()][..], &[PPS.to_vec()][..])
    );
    assert_eq!(v.dimensions, Some((320, 180)));
    let got = frames_of(&reference);
    for track in [Track::Video, Track::Audio] {
        let want: Vec<_> = sent.iter().filter(|f| f.track == track).collect();
        let have: Vec<_> = got.iter().filter(|f| f.track == track).collect();
        assert_eq!(have.len(), want.len(), "{track:?}");
        for (h, w) in have.iter().zip(&want) {
            assert_eq!(h.payload, w.data, "{track:?} at {}", w.dts_ms);
            assert_eq!(h.keyframe, w.keyframe);
            assert_eq!(h.dts_ms, w.dts_ms + TIMESTAMP_OFFSET_MS, "{track:?}");
            assert_eq!(h.pts_ms, w.pts_ms + TIMESTAMP_OFFSET_MS, "{track:?}");
            assert!(h.decodable());
        }
    }
}

#[test]
fn timestamps_unwrap_across_the_33_bit_wrap() {
    let wrap_ms = (1i64 << 33) / 90 - TIMESTAMP_OFFSET_MS;
    let ts = muxed(&frames(wrap_ms - 200));
    let got = demux_in_chunks(&ts, 1000);
    let video: Vec<i64> = frames_of(&got)
        .iter()
        .filter(|f| f.track == Track::Video)
        .map(|f| f.dts_ms)
        .collect();
    assert_eq!(video.len(), 10);
    assert!(video.windows(2).all(|w| w[1] - w[0] == 40), "{video:?}");
}

#[test]
fn garbage_is_skipped_and_never_panics() {
    let ts = muxed(&frames(0));
    let mut noisy = b"HTTP/1.1 200 OK\r\n\r\n".to_vec();
    noisy.extend_from_slice(&ts);
    let got = demux_in_chunks(&noisy, 500);
    assert!(matches!(got.first(), Some(Input::Skipped(m)) if m.contains("offset 0")));
    assert_eq!(
        frames_of(&got).len(),
        frames_of(&demux_in_chunks(&ts, 500)).len()
    );
    // Every truncation and a byte flipped anywhere in the tables and first packets.
    for cut in (0..ts.len()).step_by(97) {
        demux_in_chunks(&ts[..cut], 64);
    }
    for at in 0..(188 * 4) {
        let mut bad = ts.clone();
        bad[at] ^= 0xFF;
        demux_in_chunks(&bad, 188);
    }
    let mut seed = 7u32;
    let random: Vec<u8> = (0..20_000)
        .map(|_| {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
            if seed % 5 == 0 {
                0x47
            } else {
                (seed >> 16) as u8
            }
        })
        .collect();
    demux_in_chunks(&random, 188);
}

/// Every `00 00 01` by looking at each byte, for comparison.
fn start_codes_byte_by_byte(data: &[u8]) -> Vec<usize> {
    (0..data.len().saturating_sub(2))
        .filter(|&i| data[i..i + 3] == [0, 0, 1])
        .map(|i| i + 3)
        .collect()
}

#[test]
fn the_start_code_scan_matches_a_byte_by_byte_one() {
    let mut seed = 0x2545_F491_4F6C_DD1Du64;
    for len in 0..600 {
        // Bytes mostly 0, 1 and 2 so that start codes, near misses and runs of zeros
        // land at every alignment.
        let data: Vec<u8> = (0..len)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                [0, 0, 0, 1, 2, 0xFF][(seed % 6) as usize]
            })
            .collect();
        assert_eq!(
            start_codes(&data),
            start_codes_byte_by_byte(&data),
            "{data:?}"
        );
    }
}
