use super::pl;
use crate::formats::hls::diagnostic::{Code, Severity};
use crate::formats::hls::validate;

fn codes(text: &str) -> Vec<(Code, u32)> {
    validate(&pl(text))
        .iter()
        .map(|d| (d.code, d.line))
        .collect()
}

#[test]
fn one_case_per_rule() {
    let cases: Vec<(&str, Vec<(Code, u32)>)> = vec![
        ("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\na.ts\n#EXT-X-ENDLIST\n", vec![]),
        ("#EXTM3U\n#EXT-X-VERSION:3\n#EXTINF:2.0,\na.ts\n", vec![(Code::MissingTargetDuration, 1)]),
        ("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.5,\na.ts\n", vec![(Code::TargetDurationExceeded, 4)]),
        ("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.499,\na.ts\n", vec![]),
        ("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\na.ts\n#EXT-X-MEDIA-SEQUENCE:3\n", vec![(Code::SequenceAfterFirstSegment, 5)]),
        ("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\na.ts\n#EXT-X-DISCONTINUITY-SEQUENCE:3\n#EXTINF:2,\nb.ts\n", vec![(Code::SequenceAfterFirstSegment, 5)]),
        ("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\na.ts\n", vec![(Code::VersionTooLow, 3)]),
        ("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-BYTERANGE:5@0\n#EXTINF:2,\na.ts\n", vec![(Code::VersionTooLow, 4)]),
        ("#EXTM3U\n#EXT-X-VERSION:5\n#EXT-X-TARGETDURATION:2\n#EXT-X-MAP:URI=\"i.mp4\"\n#EXTINF:2,\na.m4s\n", vec![(Code::VersionTooLow, 4)]),
        ("#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\na.m4s\n", vec![(Code::MissingMap, 5)]),
        ("#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:2\n#EXT-X-MAP:URI=\"1.mp4\"\n#EXTINF:2,\na.m4s\n#EXT-X-MAP:URI=\"2.mp4\"\n#EXTINF:2,\nb.m4s\n", vec![(Code::MapChangeWithoutDiscontinuity, 7)]),
        ("#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:2\n#EXT-X-MAP:URI=\"1.mp4\"\n#EXTINF:2,\na.m4s\n#EXT-X-DISCONTINUITY\n#EXT-X-MAP:URI=\"2.mp4\"\n#EXTINF:2,\nb.m4s\n", vec![]),
        ("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXTINF:2,\na.ts\n", vec![(Code::MissingEndList, 5)]),
        ("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\na.ts\n#EXTINF:2,\n", vec![(Code::MissingUri, 5)]),
        ("#EXTM3U\n#EXT-X-TARGETDURATION:2\na.ts\n", vec![(Code::MissingExtinf, 3)]),
        ("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\na.ts\n", vec![(Code::DuplicateTag, 3)]),
        ("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nv.m3u8\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\na.ts\n", vec![(Code::MixedPlaylist, 1)]),
        ("#EXTM3U\n#EXT-X-TARGETDURATION:2\n", vec![(Code::EmptyPlaylist, 1)]),
        ("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-PROGRAM-DATE-TIME:2024-01-01T00:00:00\n#EXTINF:2,\na.ts\n", vec![(Code::ProgramDateTimeWithoutZone, 3)]),
        ("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\na.ts\n#EXT-X-ENDLIST\n#EXT-X-VERSION:3\n", vec![(Code::TagAfterEndList, 6)]),
    ];
    for (text, want) in cases {
        assert_eq!(codes(text), want, "{text}");
    }
}

#[test]
fn severities() {
    let d = validate(&pl("#EXTM3U\n#EXT-X-TARGETDURATION:2\n"));
    assert_eq!(d[0].severity, Severity::Warning);
    let d = validate(&pl("#EXTM3U\n#EXTINF:2,\na.ts\n"));
    assert_eq!(d[0].severity, Severity::Error);
}

#[test]
fn master_playlists_get_no_media_rules() {
    assert_eq!(
        codes("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nv.m3u8\n"),
        vec![]
    );
}
