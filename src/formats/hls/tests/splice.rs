use super::{pl, pl_at, simple};
use crate::formats::hls::splice::{
    decide_join, splice, GapPolicy, Join, JoinReason, JoinSide, Order, SpliceOptions,
};
use crate::formats::hls::{validate, Micros, PlaylistError, Severity};

fn side(pdt: Option<i64>, map: Option<&str>) -> JoinSide {
    JoinSide {
        program_date_time_ms: pdt,
        map: map.map(str::to_owned),
        key: None,
        discontinuity: false,
    }
}

#[test]
fn join_decision_table() {
    let d = |reason, gap_ms| Join::Discontinuous { reason, gap_ms };
    let cases = [
        (
            side(Some(1000), None),
            side(Some(1000), None),
            Join::Continuous,
        ),
        (
            side(Some(1000), None),
            side(Some(1250), None),
            Join::Continuous,
        ),
        (
            side(Some(1000), None),
            side(Some(750), None),
            Join::Continuous,
        ),
        (
            side(Some(1000), None),
            side(Some(1251), None),
            d(JoinReason::Gap, Some(251)),
        ),
        (
            side(Some(1000), None),
            side(Some(749), None),
            d(JoinReason::Overlap, Some(-251)),
        ),
        (
            side(None, None),
            side(Some(1000), None),
            d(JoinReason::NoProgramDateTime, None),
        ),
        (
            side(Some(1000), None),
            side(None, None),
            d(JoinReason::NoProgramDateTime, None),
        ),
        (
            side(Some(1000), Some("a")),
            side(Some(1000), Some("b")),
            d(JoinReason::InitChanged, Some(0)),
        ),
        (
            side(Some(1000), Some("a")),
            side(Some(1000), Some("a")),
            Join::Continuous,
        ),
        (
            side(Some(1000), None),
            side(Some(1000), Some("a")),
            d(JoinReason::InitChanged, Some(0)),
        ),
    ];
    for (earlier, later, want) in cases {
        assert_eq!(
            decide_join(&earlier, &later, 250),
            want,
            "{earlier:?} {later:?}"
        );
    }
    let mut keyed = side(Some(1000), None);
    keyed.key = Some("k".into());
    assert_eq!(
        decide_join(&side(Some(1000), None), &keyed, 250),
        d(JoinReason::KeyChanged, Some(0))
    );
    let mut marked = side(Some(1000), None);
    marked.discontinuity = true;
    assert_eq!(
        decide_join(&side(Some(1000), None), &marked, 250),
        d(JoinReason::SourceDiscontinuity, Some(0))
    );
}

fn assert_valid(text: &str) {
    let errors: Vec<_> = validate(&pl(text))
        .into_iter()
        .filter(|d| d.severity == Severity::Error)
        .collect();
    assert!(errors.is_empty(), "{errors:?}\n{text}");
}

#[test]
fn continuous_join_has_no_discontinuity_and_uris_resolve() {
    let a = pl_at(
        &simple(&["2.000", "2.000"], Some("2024-01-01T00:00:00.000Z")),
        "http://h/a/index.m3u8",
    );
    let b = pl_at(
        &simple(&["2.000"], Some("2024-01-01T00:00:04.000Z")),
        "http://h/b/index.m3u8",
    );
    let (out, summary) = splice(&[&a, &b], SpliceOptions::default()).unwrap();
    let text = out.to_text();
    assert_eq!(
        text,
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:VOD\n\
#EXT-X-PROGRAM-DATE-TIME:2024-01-01T00:00:00.000Z\n#EXTINF:2.000,\nhttp://h/a/seg0.ts\n#EXTINF:2.000,\nhttp://h/a/seg1.ts\n\
#EXT-X-PROGRAM-DATE-TIME:2024-01-01T00:00:04.000Z\n#EXTINF:2.000,\nhttp://h/b/seg0.ts\n#EXT-X-ENDLIST\n"
    );
    assert_eq!(summary.joins.len(), 1);
    assert!(!summary.joins[0].discontinuity);
    assert_valid(&text);
}

#[test]
fn gap_without_pdt_and_existing_discontinuities() {
    let a = pl_at(
        &simple(&["2", "2"], Some("2024-01-01T00:00:00Z")),
        "http://h/a/i.m3u8",
    );
    let b = pl_at(
        &simple(&["2"], Some("2024-01-01T00:00:10Z")),
        "http://h/b/i.m3u8",
    );
    let c = pl_at(&simple(&["2"], None), "http://h/c/i.m3u8");
    let inner = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-PROGRAM-DATE-TIME:2024-01-01T00:00:20Z\n#EXTINF:2,\nx.ts\n#EXT-X-DISCONTINUITY\n#EXTINF:2,\ny.ts\n";
    let d = pl_at(inner, "http://h/d/i.m3u8");
    let (out, summary) = splice(&[&a, &b, &c, &d], SpliceOptions::default()).unwrap();
    let flags: Vec<bool> = out.segments().iter().map(|s| s.discontinuity).collect();
    assert_eq!(flags, [false, false, true, true, true, true]);
    let reasons: Vec<Option<JoinReason>> = summary.joins.iter().map(|j| j.reason).collect();
    assert_eq!(
        reasons,
        [
            Some(JoinReason::Gap),
            Some(JoinReason::NoProgramDateTime),
            Some(JoinReason::NoProgramDateTime)
        ]
    );
    assert_eq!(summary.joins[0].gap_seconds, Some(6.0));
    let pdts: Vec<bool> = out
        .segments()
        .iter()
        .map(|s| s.program_date_time_ms.is_some())
        .collect();
    assert_eq!(
        pdts,
        [true, false, true, false, true, false],
        "PDT after every join where known"
    );
    assert_valid(&out.to_text());
}

#[test]
fn gap_segments_fill_missing_time() {
    let a = pl_at(
        &simple(&["2", "2"], Some("2024-01-01T00:00:00Z")),
        "http://h/a/i.m3u8",
    );
    let b = pl_at(
        &simple(&["2"], Some("2024-01-01T00:00:09Z")),
        "http://h/b/i.m3u8",
    );
    let options = SpliceOptions {
        gaps: GapPolicy::GapSegments,
        ..SpliceOptions::default()
    };
    let (out, summary) = splice(&[&a, &b], options).unwrap();
    let gaps: Vec<(bool, Micros, bool)> = out
        .segments()
        .iter()
        .map(|s| (s.gap, s.duration, s.discontinuity))
        .collect();
    assert_eq!(
        gaps,
        [
            (false, Micros(2_000_000), false),
            (false, Micros(2_000_000), false),
            (true, Micros(2_000_000), true),
            (true, Micros(2_000_000), false),
            (true, Micros(1_000_000), false),
            (false, Micros(2_000_000), true),
        ]
    );
    assert_eq!(summary.joins[0].gap_segments, 3);
    assert_eq!(summary.segments, 6);
    assert_eq!(
        out.total_duration(),
        Micros(11_000_000),
        "real time is kept"
    );
    assert_valid(&out.to_text());
}

#[test]
fn mixed_target_durations_byte_ranges_and_maps() {
    let fmp4 = "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:6\n#EXT-X-MAP:URI=\"init.mp4\",BYTERANGE=\"700@0\"\n\
#EXTINF:6.006,\n#EXT-X-BYTERANGE:1000@700\nall.mp4\n#EXTINF:5.5,\n#EXT-X-BYTERANGE:900\nall.mp4\n";
    let a = pl_at(fmp4, "http://h/a/x.m3u8");
    let short =
        "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\n/abs/s.ts\n#EXTINF:2,\nhttps://cdn/t.ts\n";
    let b = pl_at(short, "http://h/b/x.m3u8");
    assert_eq!(
        splice(&[&a, &b], SpliceOptions::default()).unwrap_err(),
        PlaylistError::MapCannotEnd
    );
    let (out, _) = splice(&[&b, &a], SpliceOptions::default()).unwrap();
    let text = out.to_text();
    assert!(text.contains("#EXT-X-VERSION:7\n"), "{text}");
    assert!(text.contains("#EXT-X-TARGETDURATION:6\n"), "{text}");
    assert!(
        text.contains("#EXT-X-MAP:URI=\"http://h/a/init.mp4\",BYTERANGE=\"700@0\"\n"),
        "{text}"
    );
    assert!(
        text.contains("#EXT-X-BYTERANGE:1000@700\nhttp://h/a/all.mp4\n"),
        "{text}"
    );
    assert!(
        text.contains("#EXT-X-BYTERANGE:900@1700\nhttp://h/a/all.mp4\n"),
        "{text}"
    );
    assert!(text.contains("#EXTINF:2,\nhttp://h/abs/s.ts\n"), "{text}");
    assert!(
        text.contains("\nhttps://cdn/t.ts\n#EXT-X-DISCONTINUITY\n#EXT-X-MAP:"),
        "{text}"
    );
    assert_eq!(
        out.segments()[0].map_line,
        None,
        "the TS source has no init section"
    );
    assert_valid(&text);
}

#[test]
fn map_is_reemitted_after_a_join_that_changes_it_back() {
    let m = |init: &str| {
        format!("#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-TARGETDURATION:2\n#EXT-X-MAP:URI=\"{init}\"\n#EXTINF:2,\ns.m4s\n")
    };
    let (a, b, c) = (
        pl_at(&m("1.mp4"), "http://h/"),
        pl_at(&m("2.mp4"), "http://h/"),
        pl_at(&m("1.mp4"), "http://h/"),
    );
    let (out, _) = splice(&[&a, &b, &c], SpliceOptions::default()).unwrap();
    assert_eq!(out.to_text().matches("#EXT-X-MAP:").count(), 3);
    assert_valid(&out.to_text());
}

#[test]
fn order_by_program_date_time_and_sequences_of_the_first() {
    let late = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:50\n#EXT-X-PROGRAM-DATE-TIME:2024-01-01T01:00:00Z\n#EXTINF:2,\nlate.ts\n";
    let early = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:7\n#EXT-X-DISCONTINUITY-SEQUENCE:3\n#EXT-X-PROGRAM-DATE-TIME:2024-01-01T00:00:00Z\n#EXTINF:2,\nearly.ts\n";
    let none = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\nnone.ts\n";
    let (l, e, n) = (pl(late), pl(early), pl(none));
    let options = SpliceOptions {
        order: Order::ProgramDateTime,
        ..SpliceOptions::default()
    };
    let (out, summary) = splice(&[&n, &l, &e], options).unwrap();
    assert_eq!(summary.order, [2, 1, 0]);
    let uris: Vec<&str> = out.segments().iter().map(|s| out.segment_uri(s)).collect();
    assert_eq!(uris, ["early.ts", "late.ts", "none.ts"]);
    assert_eq!(
        (
            out.header().media_sequence,
            out.header().discontinuity_sequence
        ),
        (7, 3)
    );
    let (given, _) = splice(&[&n, &l, &e], SpliceOptions::default()).unwrap();
    let uris: Vec<&str> = given
        .segments()
        .iter()
        .map(|s| given.segment_uri(s))
        .collect();
    assert_eq!(uris, ["none.ts", "late.ts", "early.ts"]);
}

#[test]
fn relative_uris_without_base_stay_relative_and_errors() {
    let a = pl(&simple(&["2"], None));
    let (out, _) = splice(&[&a, &a], SpliceOptions::default()).unwrap();
    assert_eq!(out.segment_uri(&out.segments()[1]), "seg0.ts");
    assert_eq!(
        splice(&[], SpliceOptions::default()).unwrap_err(),
        PlaylistError::NothingToSplice
    );
    let master = pl("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nv.m3u8\n");
    assert_eq!(
        splice(&[&a, &master], SpliceOptions::default()).unwrap_err(),
        PlaylistError::NotMedia
    );
    let empty = pl("#EXTM3U\n#EXT-X-TARGETDURATION:2\n");
    assert!(matches!(
        splice(&[&empty], SpliceOptions::default()),
        Err(PlaylistError::Empty(_))
    ));
    let (skipping, summary) = splice(&[&empty, &a], SpliceOptions::default()).unwrap();
    assert_eq!(
        (skipping.segments().len(), summary.order.clone()),
        (1, vec![1])
    );
}

#[test]
fn unknown_segment_tags_travel_with_their_segment() {
    let a = pl("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-CUSTOM-HEADER:1\n#EXTINF:2,\na.ts\n#EXT-X-CUE-OUT:10\n#EXTINF:2,\nb.ts\n");
    let (out, _) = splice(&[&a, &a], SpliceOptions::default()).unwrap();
    let text = out.to_text();
    assert_eq!(
        text.matches("#EXT-X-CUE-OUT:10\n#EXTINF:2,\nb.ts\n")
            .count(),
        2,
        "{text}"
    );
    assert_eq!(text.matches("#EXT-X-CUSTOM-HEADER:1").count(), 1, "{text}");
}

#[test]
fn huge_gaps_are_only_marked() {
    let a = pl(&simple(&["2"], Some("2024-01-01T00:00:00Z")));
    let b = pl(&simple(&["2"], Some("2025-01-01T00:00:00Z")));
    let options = SpliceOptions {
        gaps: GapPolicy::GapSegments,
        ..SpliceOptions::default()
    };
    let (out, summary) = splice(&[&a, &b], options).unwrap();
    assert_eq!(
        (out.segments().len(), summary.joins[0].gap_segments),
        (2, 0)
    );
    assert!(out.segments()[1].discontinuity);
}
