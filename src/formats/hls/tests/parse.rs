use super::{pl, simple};
use crate::formats::hls::diagnostic::Code;
use crate::formats::hls::playlist::{ByteRange, Kind, LineKind, PlaylistError, MAX_PLAYLIST_BYTES};
use crate::formats::hls::tags::Tag;
use crate::formats::hls::{Micros, Playlist};

const QUIRKY: &str = "#EXTM3U
#EXT-X-VERSION:3
#EXT-X-ALLOW-CACHE:NO
# a comment in the header
#EXT-X-TARGETDURATION:7
#EXT-X-MEDIA-SEQUENCE:10
#EXT-X-PROGRAM-DATE-TIME:2024-01-01T08:00:00.000+0800
#EXT-X-CUE-OUT:30
#EXTINF:6.006,first
a.ts
# between segments
#EXT-X-DISCONTINUITY
#EXTINF:5.005,
b.ts
#EXT-X-ENDLIST
#EXT-X-TRAILER-TAG:1
# trailing comment
";

#[test]
fn lossless_round_trip_keeps_unknown_tags_and_comments_in_place() {
    let p = pl(QUIRKY);
    assert_eq!(p.to_text(), QUIRKY);
    let again = pl(&p.to_text());
    assert_eq!(again.to_text(), QUIRKY);
    assert_eq!(again.segments(), p.segments());
    let header: Vec<&str> = p.header_lines().map(|i| p.line_text(i)).collect();
    assert_eq!(
        header,
        [
            "#EXTM3U",
            "#EXT-X-VERSION:3",
            "#EXT-X-ALLOW-CACHE:NO",
            "# a comment in the header",
            "#EXT-X-TARGETDURATION:7",
            "#EXT-X-MEDIA-SEQUENCE:10"
        ]
    );
    let trailer: Vec<&str> = p.trailer_lines().map(|i| p.line_text(i)).collect();
    assert_eq!(
        trailer,
        [
            "#EXT-X-ENDLIST",
            "#EXT-X-TRAILER-TAG:1",
            "# trailing comment"
        ]
    );
    let first: Vec<&str> = (p.segments()[0].first_line..=p.segments()[0].uri_line)
        .map(|i| p.line_text(i))
        .collect();
    assert_eq!(
        first,
        [
            "#EXT-X-PROGRAM-DATE-TIME:2024-01-01T08:00:00.000+0800",
            "#EXT-X-CUE-OUT:30",
            "#EXTINF:6.006,first",
            "a.ts"
        ]
    );
    let second: Vec<&str> = (p.segments()[1].first_line..=p.segments()[1].uri_line)
        .map(|i| p.line_text(i))
        .collect();
    assert_eq!(
        second,
        [
            "# between segments",
            "#EXT-X-DISCONTINUITY",
            "#EXTINF:5.005,",
            "b.ts"
        ]
    );
    assert!(
        p.parse_diagnostics().is_empty(),
        "{:?}",
        p.parse_diagnostics()
    );
}

#[test]
fn exact_durations_offsets_and_header_values() {
    let p = pl(QUIRKY);
    assert_eq!(p.segments()[0].duration, Micros(6_006_000));
    assert_eq!(p.segments()[1].duration, Micros(5_005_000));
    assert_eq!(p.total_duration(), Micros(11_011_000));
    assert_eq!(
        p.segments()[0].program_date_time_ms,
        Some(1_704_067_200_000)
    );
    assert!(p.segments()[1].discontinuity);
    assert_eq!(p.header().media_sequence, 10);
    assert_eq!(p.header().target_duration, Some(7));
    assert_eq!(p.media_sequence_of(1), 11);
    assert_eq!(p.kind(), Kind::Media);
    assert!(p.header().end_list);
}

#[test]
fn crlf_and_blank_lines_are_not_kept() {
    let p = pl("#EXTM3U\r\n\r\n#EXT-X-TARGETDURATION:2\r\n   \r\n#EXTINF:2,\r\ns.ts\r\n");
    assert_eq!(
        p.to_text(),
        "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\ns.ts\n"
    );
    assert_eq!(
        p.lines()[3].number,
        6,
        "line numbers count the original lines"
    );
}

#[test]
fn malformed_lines_are_diagnostics_with_line_numbers() {
    let text = "#EXTM3U
#EXT-X-TARGETDURATION:6.5
#EXT-X-MEDIA-SEQUENCE:x
#EXTINF:abc,
a.ts
#EXT-X-PROGRAM-DATE-TIME:yesterday
#EXT-X-BYTERANGE:10@
#EXT-X-MAP:URI=init.mp4
#EXT-X-KEY:METHOD=AES-128
#EXTINF:2,
b.ts
#EXT-X-START:TIME-OFFSET=abc
";
    let p = pl(text);
    let got: Vec<(Code, u32)> = p
        .parse_diagnostics()
        .iter()
        .map(|d| (d.code, d.line))
        .collect();
    assert_eq!(
        got,
        [
            (Code::MalformedTag, 2),
            (Code::MalformedTag, 3),
            (Code::MalformedTag, 4),
            (Code::MissingExtinf, 5),
            (Code::MalformedProgramDateTime, 6),
            (Code::MalformedTag, 7),
            (Code::MalformedTag, 8),
            (Code::MalformedTag, 9),
            (Code::MalformedTag, 12),
        ]
    );
    assert_eq!(
        p.header().target_duration,
        None,
        "a fractional TARGETDURATION is not guessed"
    );
    assert_eq!(p.segments().len(), 2, "no bogus segment");
    assert_eq!(p.to_text(), text, "malformed lines are still kept verbatim");
}

#[test]
fn byte_range_offsets_are_derived() {
    let p = pl("#EXTM3U\n#EXT-X-VERSION:4\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\n#EXT-X-BYTERANGE:100@0\nall.ts\n#EXTINF:2,\n#EXT-X-BYTERANGE:50\nall.ts\n#EXTINF:2,\n#EXT-X-BYTERANGE:70\nother.ts\n");
    let ranges: Vec<Option<ByteRange>> = p.segments().iter().map(|s| s.byte_range).collect();
    assert_eq!(
        ranges[0],
        Some(ByteRange {
            length: 100,
            offset: Some(0),
            explicit: true
        })
    );
    assert_eq!(
        ranges[1],
        Some(ByteRange {
            length: 50,
            offset: Some(100),
            explicit: false
        })
    );
    assert_eq!(
        ranges[2],
        Some(ByteRange {
            length: 70,
            offset: None,
            explicit: false
        })
    );
    let codes: Vec<Code> = p.parse_diagnostics().iter().map(|d| d.code).collect();
    assert_eq!(codes, [Code::ByteRangeWithoutOffset]);
}

#[test]
fn map_and_key_in_effect_follow_the_segments() {
    let p = pl("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MAP:URI=\"i1.mp4\"\n#EXT-X-KEY:METHOD=AES-128,URI=\"k\"\n#EXTINF:2,\na.m4s\n#EXT-X-KEY:METHOD=NONE\n#EXTINF:2,\nb.m4s\n#EXT-X-MAP:URI=\"i2.mp4\"\n#EXTINF:2,\nc.m4s\n");
    let maps: Vec<Option<&str>> = p
        .segments()
        .iter()
        .map(|s| s.map_line.and_then(|l| p.tag_attribute(l, "URI")))
        .collect();
    assert_eq!(maps, [Some("i1.mp4"), Some("i1.mp4"), Some("i2.mp4")]);
    let keys: Vec<bool> = p.segments().iter().map(|s| s.key_line.is_some()).collect();
    assert_eq!(keys, [true, false, false]);
    assert_eq!(
        p.header_lines(),
        0..2,
        "MAP starts the first segment, not the header"
    );
}

#[test]
fn program_date_times_are_derived_forward_and_backward() {
    let p = pl("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\na.ts\n#EXT-X-PROGRAM-DATE-TIME:2024-01-01T00:00:02Z\n#EXTINF:2,\nb.ts\n#EXTINF:2,\nc.ts\n#EXT-X-DISCONTINUITY\n#EXTINF:2,\nd.ts\n");
    let base = 1_704_067_200_000;
    assert_eq!(
        p.program_date_times(),
        [Some(base), Some(base + 2000), Some(base + 4000), None]
    );
}

#[test]
fn master_playlists_are_recognised() {
    let p = pl("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1000\nlow/index.m3u8\n#EXT-X-STREAM-INF:BANDWIDTH=2000\nhigh/index.m3u8\n");
    assert_eq!(p.kind(), Kind::Master);
    assert!(p.segments().is_empty());
    assert_eq!(p.to_text().lines().count(), 5);
}

#[test]
fn size_limit_and_missing_header() {
    let huge = "#".repeat(MAX_PLAYLIST_BYTES + 1);
    assert!(matches!(
        Playlist::parse(&huge),
        Err(PlaylistError::TooLarge { .. })
    ));
    let p = pl("#EXT-X-TARGETDURATION:2\n#EXTINF:2,\na.ts\n");
    assert_eq!(p.parse_diagnostics()[0].code, Code::MissingHeader);
    let empty = pl("");
    assert_eq!(empty.parse_diagnostics()[0].code, Code::MissingHeader);
    assert_eq!(empty.kind(), Kind::Unknown);
}

#[test]
fn anchor_shaped_playlist_parses() {
    let text = simple(
        &["1.998", "2.000", "2.002"],
        Some("2024-01-01T00:00:00.000Z"),
    );
    let p = pl(&text);
    assert_eq!(p.segments().len(), 3);
    assert_eq!(p.total_duration(), Micros(6_000_000));
    assert!(matches!(p.lines()[0].kind, LineKind::Tag(Tag::ExtM3u)));
}

#[test]
fn writing_is_the_same_with_or_without_the_verbatim_shortcut() {
    for text in [
        "#EXTM3U\n#EXTINF:2,\na.ts\n",
        "#EXTM3U\n#EXTINF:2,\na.ts",
        "#EXTM3U\n\n#EXTINF:2,\na.ts\n",
        "#EXTM3U\r\n#EXTINF:2,\r\na.ts\r\n",
        "",
        "\n",
        "#EXTM3U\n#EXTINF:2,\na.ts\n\n",
    ] {
        let p = pl(text);
        let joined: String = (0..p.lines().len() as u32)
            .map(|i| format!("{}\n", p.line_text(i)))
            .collect();
        assert_eq!(p.to_text(), joined, "{text:?}");
    }
}
