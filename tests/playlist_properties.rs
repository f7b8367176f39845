//! Property: splicing valid media playlists always yields a playlist that validates
//! (no error diagnostics), round-trips through the writer, and keeps every segment.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use liverec::formats::hls::splice::{splice, GapPolicy, Order, SpliceOptions};
use liverec::formats::hls::{validate, Playlist, Severity};
use proptest::prelude::*;

#[derive(Debug, Clone)]
struct Spec {
    durations_ms: Vec<u32>,
    discontinuities: Vec<bool>,
    pdt_ms: Option<i64>,
    byte_ranges: bool,
    base: Option<String>,
    media_sequence: u32,
}

fn spec() -> impl Strategy<Value = Spec> {
    (1usize..12).prop_flat_map(|n| {
        (
            prop::collection::vec(200u32..9_000, n),
            prop::collection::vec(prop::bool::weighted(0.2), n),
            prop::option::of(1_700_000_000_000i64..1_700_000_100_000),
            any::<bool>(),
            prop::option::of(prop::sample::select(vec![
                "http://h/a/index.m3u8",
                "https://cdn.example/x/y/",
                "http://h/",
            ])),
            0u32..1000,
        )
            .prop_map(
                |(durations_ms, discontinuities, pdt_ms, byte_ranges, base, media_sequence)| Spec {
                    durations_ms,
                    discontinuities,
                    pdt_ms,
                    byte_ranges,
                    base: base.map(str::to_owned),
                    media_sequence,
                },
            )
    })
}

fn render(spec: &Spec, fmp4: bool, tag: usize) -> String {
    let target = spec
        .durations_ms
        .iter()
        .map(|d| (d + 500) / 1000)
        .max()
        .unwrap_or(1)
        .max(1);
    let version = if fmp4 {
        6
    } else if spec.byte_ranges {
        4
    } else {
        3
    };
    let mut s = format!("#EXTM3U\n#EXT-X-VERSION:{version}\n#EXT-X-TARGETDURATION:{target}\n#EXT-X-MEDIA-SEQUENCE:{}\n", spec.media_sequence);
    if fmp4 {
        s.push_str(&format!("#EXT-X-MAP:URI=\"init{tag}.mp4\"\n"));
    }
    let mut offset = 0u64;
    let mut clock = spec.pdt_ms;
    for (i, d) in spec.durations_ms.iter().enumerate() {
        if i > 0 && spec.discontinuities[i] {
            s.push_str("#EXT-X-DISCONTINUITY\n");
            clock = clock.map(|c| c + 5_000);
        }
        if let Some(c) = clock {
            if i == 0 || spec.discontinuities[i] {
                let secs = c / 1000;
                let (days, rem) = (secs / 86_400, secs % 86_400);
                // 2023-11-14 is day 19675; the generator stays within that day and the next.
                let day = if days == 19_675 { 14 } else { 15 };
                s.push_str(&format!(
                    "#EXT-X-PROGRAM-DATE-TIME:2023-11-{day:02}T{:02}:{:02}:{:02}.{:03}Z\n",
                    rem / 3600,
                    rem / 60 % 60,
                    rem % 60,
                    c % 1000
                ));
            }
        }
        s.push_str(&format!("#EXTINF:{}.{:03},\n", d / 1000, d % 1000));
        if spec.byte_ranges {
            s.push_str(&format!("#EXT-X-BYTERANGE:{}@{offset}\n", 1000 + i));
            offset += 1000 + i as u64;
        }
        s.push_str(&format!("s{tag}_{i}.{}\n", if fmp4 { "m4s" } else { "ts" }));
        clock = clock.map(|c| c + i64::from(*d));
    }
    s.push_str("#EXT-X-ENDLIST\n");
    s
}

fn errors(p: &Playlist) -> Vec<String> {
    validate(p)
        .into_iter()
        .filter(|d| d.severity == Severity::Error)
        .map(|d| format!("{:?} line {}: {}", d.code, d.line, d.message))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    #[test]
    fn spliced_valid_playlists_validate(
        specs in prop::collection::vec(spec(), 1..5),
        fmp4 in any::<bool>(),
        gap_segments in any::<bool>(),
        by_time in any::<bool>(),
        tolerance_ms in 0i64..2_000,
    ) {
        let sources: Vec<Playlist> = specs
            .iter()
            .enumerate()
            .map(|(i, s)| Playlist::parse(&render(s, fmp4, i)).unwrap().with_base_url(s.base.clone()))
            .collect();
        for source in &sources {
            prop_assert!(errors(source).is_empty(), "generator made an invalid input: {:?}\n{}", errors(source), source);
        }
        let options = SpliceOptions {
            order: if by_time { Order::ProgramDateTime } else { Order::Given },
            gaps: if gap_segments { GapPolicy::GapSegments } else { GapPolicy::Discontinuity },
            tolerance_ms,
        };
        let refs: Vec<&Playlist> = sources.iter().collect();
        let (out, summary) = splice(&refs, options).unwrap();
        prop_assert!(errors(&out).is_empty(), "{:?}\n{}", errors(&out), out);
        let real: usize = sources.iter().map(|s| s.segments().len()).sum();
        let gaps: usize = summary.joins.iter().map(|j| j.gap_segments).sum();
        prop_assert_eq!(out.segments().len(), real + gaps);
        let again = Playlist::parse(&out.to_text()).unwrap();
        prop_assert_eq!(again.to_text(), out.to_text());
    }
}
