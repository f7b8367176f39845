use super::{pl, pl_at, simple};
use crate::formats::hls::clip::{clip, ClipTime};
use crate::formats::hls::{validate, Micros, PlaylistError, Severity};

fn secs(s: f64) -> ClipTime {
    ClipTime::Offset(Micros::from_secs_f64(s).unwrap())
}

#[test]
fn clip_table() {
    // Segments start at 0, 2, 4, 6, 8 (2 s each).
    let p = pl_at(
        &simple(&["2", "2", "2", "2", "2"], Some("2024-01-01T00:00:00Z")),
        "http://h/r/i.m3u8",
    );
    let cases = [
        (secs(0.0), Some(secs(10.0)), (0, 5, 0.0)),
        (secs(3.5), Some(secs(6.0)), (1, 2, 1.5)),
        (secs(3.5), Some(secs(6.001)), (1, 3, 1.5)),
        (secs(4.0), None, (2, 3, 0.0)),
        (secs(9.999), Some(secs(99.0)), (4, 1, 1.999)),
        (
            ClipTime::WallClockMs(1_704_067_203_250),
            Some(ClipTime::WallClockMs(1_704_067_205_000)),
            (1, 2, 1.25),
        ),
    ];
    for (start, end, (first, count, offset)) in cases {
        let (out, summary) = clip(&p, start, end).unwrap();
        assert_eq!(
            (
                summary.first_segment,
                summary.segment_count,
                summary.start_offset_seconds
            ),
            (first, count, offset),
            "{start:?} {end:?}"
        );
        assert_eq!(out.segments().len(), count);
        assert_eq!(
            out.header().start,
            Some((Micros::from_secs_f64(offset).unwrap(), true))
        );
        assert_eq!(out.header().media_sequence, first as u64);
        assert!(out.segments()[0].program_date_time_ms.is_some());
        assert!(out
            .segment_uri(&out.segments()[0])
            .starts_with("http://h/r/seg"));
        let errors: Vec<_> = validate(&out)
            .into_iter()
            .filter(|d| d.severity == Severity::Error)
            .collect();
        assert!(errors.is_empty(), "{errors:?}");
    }
}

#[test]
fn clip_across_discontinuities_keeps_sequence_numbers() {
    let text = "#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:100\n#EXT-X-DISCONTINUITY-SEQUENCE:5\n\
#EXT-X-MAP:URI=\"i1.mp4\"\n#EXTINF:2,\na.m4s\n#EXT-X-DISCONTINUITY\n#EXT-X-MAP:URI=\"i2.mp4\"\n#EXTINF:2,\nb.m4s\n#EXTINF:2,\nc.m4s\n\
#EXT-X-DISCONTINUITY\n#EXTINF:2,\nd.m4s\n";
    let p = pl(text);
    let (out, summary) = clip(&p, secs(2.5), Some(secs(7.0))).unwrap();
    assert_eq!(
        (
            summary.first_segment,
            summary.segment_count,
            summary.media_sequence
        ),
        (1, 3, 101)
    );
    assert_eq!(
        out.header().discontinuity_sequence,
        6,
        "the cut discontinuity is counted"
    );
    let flags: Vec<bool> = out.segments().iter().map(|s| s.discontinuity).collect();
    assert_eq!(flags, [false, false, true]);
    assert!(
        out.to_text()
            .contains("#EXT-X-MAP:URI=\"i2.mp4\"\n#EXTINF:2,\nb.m4s"),
        "{}",
        out.to_text()
    );
    assert_eq!(out.to_text().matches("#EXT-X-MAP").count(), 1);
}

#[test]
fn bad_ranges() {
    let p = pl(&simple(&["2", "2"], None));
    assert!(matches!(
        clip(&p, secs(4.0), None),
        Err(PlaylistError::BadRange(_))
    ));
    assert!(matches!(
        clip(&p, secs(2.0), Some(secs(2.0))),
        Err(PlaylistError::BadRange(_))
    ));
    assert!(matches!(
        clip(&p, secs(-1.0), None),
        Err(PlaylistError::BadRange(_))
    ));
    assert!(matches!(
        clip(&p, ClipTime::WallClockMs(0), None),
        Err(PlaylistError::BadRange(_))
    ));
    let master = pl("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nv.m3u8\n");
    assert_eq!(
        clip(&master, secs(0.0), None).unwrap_err(),
        PlaylistError::NotMedia
    );
}

#[test]
fn recording_playlist_grows_then_ends() {
    use crate::formats::hls::writer::{RecordedSegment, RecordingPlaylist};
    let mut r = RecordingPlaylist::new();
    let seg = |uri: &str, ms: i64, pdt: i64, disc: bool| RecordedSegment {
        uri: uri.into(),
        duration: Micros::from_millis(ms),
        program_date_time_ms: Some(pdt),
        discontinuity: disc,
        map: None,
    };
    r.push(seg("a.ts", 2002, 1_704_067_200_000, false));
    r.push(seg("b.ts", 1998, 1_704_067_202_002, false));
    let growing = r.render(false);
    assert!(
        growing.contains("#EXT-X-PLAYLIST-TYPE:EVENT\n") && !growing.contains("ENDLIST"),
        "{growing}"
    );
    r.push(seg("c.ts", 3500, 1_704_067_300_000, true));
    let done = r.render(true);
    assert_eq!(
        done,
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:4\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:VOD\n\
#EXT-X-PROGRAM-DATE-TIME:2024-01-01T00:00:00.000Z\n#EXTINF:2.002,\na.ts\n#EXTINF:1.998,\nb.ts\n\
#EXT-X-DISCONTINUITY\n#EXT-X-PROGRAM-DATE-TIME:2024-01-01T00:01:40.000Z\n#EXTINF:3.500,\nc.ts\n#EXT-X-ENDLIST\n"
    );
    assert!(validate(&pl(&done)).is_empty());
}

#[test]
fn a_growing_playlist_is_its_text_so_far_plus_the_new_lines() {
    use crate::formats::hls::writer::{RecordedSegment, RecordingPlaylist};
    let mut r = RecordingPlaylist::new();
    let mut text = String::new();
    for (i, ms) in [2000, 1960, 2040, 1990, 2010].into_iter().enumerate() {
        let before = r.segments().len();
        r.push(RecordedSegment {
            uri: format!("s{i}.ts"),
            duration: Micros::from_millis(ms),
            program_date_time_ms: (i == 3).then_some(1_704_067_200_000),
            discontinuity: i == 3,
            map: None,
        });
        if before == 0 {
            text = r.render(false);
        } else {
            text.push_str(&r.render_from(before));
        }
        assert_eq!(text, r.render(false), "after segment {i}");
    }
    assert_eq!(r.target_duration(), 2);
}

#[test]
fn an_fmp4_recording_names_its_initialization_section_where_it_changes() {
    use crate::formats::hls::writer::{RecordedSegment, RecordingPlaylist};
    let mut r = RecordingPlaylist::new();
    let seg = |uri: &str, map: &str, disc: bool| RecordedSegment {
        uri: uri.into(),
        duration: Micros::from_millis(6000),
        program_date_time_ms: Some(1_704_067_200_000),
        discontinuity: disc,
        map: Some(map.into()),
    };
    r.push(seg("r_00000.m4s", "r_init_00000.mp4", false));
    let before = r.segments().len();
    let mut text = r.render(false);
    r.push(seg("r_00001.m4s", "r_init_00000.mp4", false));
    r.push(seg("r_00002.m4s", "r_init_00002.mp4", true));
    text.push_str(&r.render_from(before));
    assert_eq!(text, r.render(false));
    let done = r.render(true);
    assert_eq!(done.matches("#EXT-X-MAP:").count(), 2, "{done}");
    assert!(done.contains("#EXT-X-VERSION:7\n"), "{done}");
    assert!(
        done.contains("#EXT-X-DISCONTINUITY\n#EXT-X-MAP:URI=\"r_init_00002.mp4\"\n"),
        "{done}"
    );
    let parsed = pl(&done);
    assert!(validate(&parsed).is_empty(), "{:?}", validate(&parsed));
    let maps: Vec<_> = parsed
        .segments()
        .iter()
        .map(|s| parsed.map_uri(s))
        .collect();
    assert_eq!(
        maps,
        [
            Some("r_init_00000.mp4"),
            Some("r_init_00000.mp4"),
            Some("r_init_00002.mp4")
        ]
    );
}
