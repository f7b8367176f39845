//! A stitched file, materialised from its reads, holds every sample at the offset its
//! tables give, with the edit starting at the requested instant.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use mp4_atom::{Decode, Moov};

use super::*;
use crate::formats::codec::aac::parse_audio_specific_config;
use crate::formats::mp4::test_support::avc;

/// Two source "files" of 4 s each (25 fps video, keyframe every second, 2 B-frame
/// offsets; AAC every 23 ms), the second starting 3 s after the first ends. Every
/// sample's bytes are its own index, so misplaced bytes show.
fn sources() -> (Vec<Vec<u8>>, Vec<Piece>) {
    let mut files = Vec::new();
    let mut pieces = Vec::new();
    for (source, t0) in [(0u32, 10_000i64), (1, 17_000)] {
        let mut file = vec![0xEE; 100]; // a header the samples do not start at
        let mut piece = Piece::default();
        let push = |list: &mut Vec<SampleRef>,
                    dts: i64,
                    cts: i32,
                    size: u32,
                    sync: bool,
                    file: &mut Vec<u8>| {
            let offset = file.len() as u64;
            file.extend((0..size).map(|i| (i as u8) ^ (dts as u8)));
            file.extend_from_slice(&[0xAB; 11]); // a tag header between samples
            list.push(SampleRef {
                dts_ms: dts,
                cts_ms: cts,
                size,
                sync,
                source,
                offset,
            });
        };
        let (mut v, mut a) = (0i64, 0i64);
        while v < 4000 || a < 4000 {
            if v <= a {
                push(
                    &mut piece.video,
                    t0 + v,
                    if v % 1000 == 0 { 0 } else { 80 },
                    500 + (v as u32 % 7),
                    v % 1000 == 0,
                    &mut file,
                );
                v += 40;
            } else {
                push(&mut piece.audio, t0 + a, 0, 200, true, &mut file);
                a += 23;
            }
        }
        files.push(file);
        pieces.push(piece);
    }
    (files, pieces)
}

fn tracks() -> Mp4Tracks {
    Mp4Tracks {
        video: Some(avc()),
        audio: parse_audio_specific_config(&[0x11, 0x90]),
        opus: None,
        entry: None,
        extra: Vec::new(),
    }
}

fn materialise(s: &Stitched, files: &[Vec<u8>], range: std::ops::Range<u64>) -> Vec<u8> {
    let mut out = Vec::new();
    for read in s.reads(range) {
        match read {
            Read::Head(r) => out.extend_from_slice(&s.head[r]),
            Read::Source {
                source,
                offset,
                len,
            } => {
                let f = &files[source as usize];
                out.extend_from_slice(&f[offset as usize..(offset + len) as usize]);
            }
        }
    }
    out
}

#[test]
fn samples_sit_where_the_tables_say_and_the_edit_starts_at_start() {
    let (files, pieces) = sources();
    let (start, end) = (11_500, 18_500); // 0.5 s into the first piece's 2nd second .. 1.5 s into the second
    let s = stitch(&tracks(), &pieces, start, end).unwrap();
    let file = materialise(&s, &files, 0..s.len);
    assert_eq!(file.len() as u64, s.len);
    // Every byte range reads the same bytes as the whole.
    for (a, b) in [
        (0, 10),
        (5, s.head.len() as u64 + 3),
        (s.len - 100, s.len),
        (1000, 9000),
    ] {
        assert_eq!(materialise(&s, &files, a..b), file[a as usize..b as usize]);
    }
    let mut cursor = std::io::Cursor::new(&file[..]);
    let _ftyp = mp4_atom::Ftyp::decode(&mut cursor).unwrap();
    let moov = Moov::decode(&mut cursor).unwrap();
    // Presentation: 2.5 s left of the first piece (11.5..14.002 s: its last AAC frame
    // ends 2 ms after its last video frame) plus 1.5 s of the second.
    assert_eq!(moov.mvhd.duration, 4002, "{:?}", moov.mvhd);
    for (t, trak) in moov.trak.iter().enumerate() {
        let stbl = &trak.mdia.minf.stbl;
        let StszSamples::Different { sizes } = &stbl.stsz.samples else {
            panic!()
        };
        let chunk_offsets = &stbl.stco.as_ref().unwrap().entries;
        let per_chunk: Vec<u32> = {
            let mut v = Vec::new();
            for (i, e) in stbl.stsc.entries.iter().enumerate() {
                let until = stbl
                    .stsc
                    .entries
                    .get(i + 1)
                    .map_or(chunk_offsets.len() as u32 + 1, |n| n.first_chunk);
                v.extend(std::iter::repeat_n(
                    e.samples_per_chunk,
                    (until - e.first_chunk) as usize,
                ));
            }
            v
        };
        // Walk the samples through the tables and compare with the sources.
        let source: Vec<&SampleRef> = pieces
            .iter()
            .flat_map(|p| if t == 0 { &p.video } else { &p.audio })
            .filter(|x| {
                let first = if t == 0 { 1_000 } else { 1_495 }; // from the keyframe at 11 s / frame at 11.495
                (x.dts_ms >= 10_000 + first && x.dts_ms < 14_000)
                    || (x.dts_ms >= 17_000 && x.dts_ms < end)
            })
            .collect();
        assert_eq!(sizes.len(), source.len(), "track {t}");
        let mut n = 0;
        for (chunk, count) in chunk_offsets.iter().zip(&per_chunk) {
            let mut at = *chunk as usize;
            for _ in 0..*count {
                let want = &files[source[n].source as usize];
                let o = source[n].offset as usize;
                assert_eq!(
                    &file[at..at + sizes[n] as usize],
                    &want[o..o + sizes[n] as usize]
                );
                at += sizes[n] as usize;
                n += 1;
            }
        }
        assert_eq!(n, source.len());
        let elst = &trak.edts.as_ref().unwrap().elst.as_ref().unwrap().entries;
        let media_start = elst.last().unwrap().media_time.unwrap();
        // Video starts at the 11 s keyframe: the edit skips 0.5 s of it.
        if t == 0 {
            assert_eq!((elst.len(), media_start), (1, 500), "{elst:?}");
        }
    }
}

#[test]
fn a_range_before_any_sample_is_no_tracks() {
    let (_, pieces) = sources();
    assert!(stitch(&tracks(), &pieces, 30_000, 40_000).is_err());
    assert!(stitch(&tracks(), &[], 0, 1).is_err());
}
