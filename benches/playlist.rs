//! Native playlist benchmark: liverec's parser against m3u8-rs's (the anchor named by
//! the playlist issue), on the same bytes, in the same process, interleaved.
//!
//! `cargo bench --bench playlist -- FILE [RUNS]` (default FILE: the 24-hour anchor
//! playlist made by `../shared/anchors/gen-playlist.py`, see `scripts/bench-playlist.sh`).
//! Prints medians and the ratio m3u8-rs / liverec.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::hint::black_box;
use std::time::Instant;

use liverec::formats::hls::Playlist;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn time<F: FnMut()>(mut f: F) -> f64 {
    let t = Instant::now();
    f();
    t.elapsed().as_secs_f64() * 1e3
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let path = args
        .first()
        .cloned()
        .unwrap_or_else(|| "/tmp/anchors/playlists/big.m3u8".into());
    let runs: usize = args.get(1).and_then(|r| r.parse().ok()).unwrap_or(30);
    let bytes = std::fs::read(&path)
        .unwrap_or_else(|e| panic!("{path}: {e} (run scripts/bench-playlist.sh)"));
    let text = std::str::from_utf8(&bytes).unwrap();

    let ours = Playlist::parse(text).unwrap();
    let theirs = m3u8_rs::parse_media_playlist_res(&bytes).unwrap();
    assert_eq!(
        ours.segments().len(),
        theirs.segments.len(),
        "both parsers see the same segments"
    );

    let (mut lr_parse, mut lr_round, mut m3_parse, mut m3_round, mut scan) =
        (vec![], vec![], vec![], vec![], vec![]);
    for i in 0..runs + 5 {
        let a = time(|| {
            black_box(Playlist::parse(black_box(text)).unwrap());
        });
        let b = time(|| {
            black_box(m3u8_rs::parse_media_playlist_res(black_box(&bytes)).unwrap());
        });
        let c = time(|| {
            black_box(Playlist::parse(black_box(text)).unwrap().to_text());
        });
        let d = time(|| {
            let p = m3u8_rs::parse_media_playlist_res(black_box(&bytes)).unwrap();
            let mut out = Vec::with_capacity(bytes.len());
            p.write_to(&mut out).unwrap();
            black_box(out);
        });
        let e = time(|| {
            black_box(
                std::str::from_utf8(black_box(&bytes))
                    .unwrap()
                    .lines()
                    .count(),
            );
        });
        if i >= 5 {
            lr_parse.push(a);
            m3_parse.push(b);
            lr_round.push(c);
            m3_round.push(d);
            scan.push(e);
        }
    }
    let (lp, mp, lr, mr, sc) = (
        median(lr_parse),
        median(m3_parse),
        median(lr_round),
        median(m3_round),
        median(scan),
    );
    println!(
        "playlist: {path} ({} bytes, {} segments), median of {runs}",
        bytes.len(),
        ours.segments().len()
    );
    println!("  utf-8 check + line scan : {sc:8.3} ms");
    println!("  liverec parse           : {lp:8.3} ms");
    println!("  m3u8-rs 6.0.1 parse     : {mp:8.3} ms");
    println!("  liverec parse+write     : {lr:8.3} ms");
    println!("  m3u8-rs parse+write     : {mr:8.3} ms");
    println!(
        "  ratio parse (m3u8-rs / liverec)       : {:6.1}x  (target >= 7x)",
        mp / lp
    );
    println!("  ratio parse+write (m3u8-rs / liverec) : {:6.1}x", mr / lr);
}
