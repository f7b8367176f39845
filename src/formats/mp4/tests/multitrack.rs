//! A file with extra tracks: each gets a `trak` (ids 3, 4, …) in the fragmented form and
//! in the moov-first finish, with every sample it was given, and reads back (recovery).
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use mp4_atom::{Decode, Moov};

use super::*;
use crate::formats::codec::aac::parse_audio_specific_config;
use crate::formats::flv::frames::{MediaFrame, Track};
use crate::formats::mp4::progressive::finish_in_memory;
use crate::formats::mp4::scan::boxes;
use crate::formats::mp4::test_support::avc;
use crate::formats::mp4::{Fragmenter, MoovRoom};

fn frame(track: Track, dts: i64, key: bool, byte: u8) -> MediaFrame {
    MediaFrame {
        track,
        dts_ms: dts,
        pts_ms: dts,
        keyframe: key,
        data: vec![byte; 30 + usize::from(byte % 5)].into(),
        offset: 0,
    }
}

fn moov_of(file: &[u8]) -> Moov {
    let read = |at: u64, buf: &mut [u8; 16]| -> Result<usize, ()> {
        let rest = &file[at as usize..];
        let n = rest.len().min(16);
        buf[..n].copy_from_slice(&rest[..n]);
        Ok(n)
    };
    let top = boxes(0, file.len() as u64, read).unwrap();
    let b = top.iter().find(|b| &b.kind == b"moov").unwrap();
    Moov::decode(&mut &file[b.offset as usize..(b.offset + b.size) as usize]).unwrap()
}

#[test]
fn extra_tracks_get_a_trak_each_with_all_their_samples() {
    let aac = parse_audio_specific_config(&[0x11, 0x90]).unwrap();
    let tracks = Mp4Tracks {
        video: Some(avc()),
        audio: Some(aac.clone()),
        opus: None,
        entry: None,
        extra: vec![ExtraTrack {
            source_id: 1,
            config: CodecConfig::Audio(aac.clone()),
        }],
    };
    let room = MoovRoom {
        max_ms: Some(10_000),
        input_bytes: None,
    };
    let mut fragmenter = Fragmenter::new(tracks, room).unwrap();
    let mut out = Vec::new();
    // A second video rendition joins before the first fragment is cut.
    let joined = ExtraTrack {
        source_id: 1,
        config: CodecConfig::Video(avc()),
    };
    for i in 0..100i64 {
        let t = i * 40;
        fragmenter
            .push(&frame(Track::Video, t, i % 25 == 0, 1), &mut out)
            .unwrap();
        fragmenter
            .push(&frame(Track::Audio, t, true, 2), &mut out)
            .unwrap();
        assert!(fragmenter.push_extra(0, &frame(Track::Audio, t, true, 3)));
        if i == 3 {
            assert_eq!(fragmenter.add_extra(joined.clone()), Some(1));
        }
        if i >= 3 {
            assert!(fragmenter.push_extra(1, &frame(Track::Video, t, i == 3, 4)));
        }
    }
    assert_eq!(
        fragmenter.add_extra(joined),
        None,
        "too late: the head is out"
    );
    fragmenter.finish(&mut out).unwrap();
    let fragmented = out.concat();
    let plan = fragmenter.finish_plan();
    let done = finish_in_memory(fragmented.clone(), plan).unwrap();
    for file in [&fragmented, &done] {
        let moov = moov_of(file);
        let ids: Vec<u32> = moov.trak.iter().map(|t| t.tkhd.track_id).collect();
        assert_eq!(ids, [1, 2, 3, 4]);
        let read = tracks_of_moov(&moov).unwrap();
        let kinds: Vec<Track> = read.extra.iter().map(|e| e.config.track()).collect();
        assert_eq!(kinds, [Track::Audio, Track::Video]);
        assert_eq!(moov.mvhd.next_track_id, 5);
    }
    let moov = moov_of(&done);
    let counts: Vec<usize> = moov
        .trak
        .iter()
        .map(|t| match &t.mdia.minf.stbl.stsz.samples {
            mp4_atom::StszSamples::Different { sizes } => sizes.len(),
            mp4_atom::StszSamples::Identical { count, .. } => *count as usize,
        })
        .collect();
    assert_eq!(counts, [100, 100, 100, 97]);
    let video = &moov.trak[3];
    assert_eq!(video.mdia.hdlr.handler, mp4_atom::FourCC::new(b"vide"));
    let sync = video
        .mdia
        .minf
        .stbl
        .stss
        .as_ref()
        .map(|s| s.entries.clone());
    assert_eq!(
        sync,
        Some(vec![1]),
        "the joined rendition starts at its keyframe"
    );
}
