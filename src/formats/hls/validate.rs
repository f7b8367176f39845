//! The RFC 8216 rules players depend on, checked over a parsed [`Playlist`]. Every
//! finding is a [`Diagnostic`] with its line; parse-time problems come first.

use super::attributes::{decode_attributes, find};
use super::diagnostic::{Code, Diagnostic};
use super::playlist::{Kind, LineKind, Playlist, PlaylistType};
use super::tags::Tag;

/// Segment URI suffixes that mean fragmented MP4 (RFC 8216 §3.3), which needs EXT-X-MAP.
const FMP4_SUFFIXES: [&str; 4] = [".m4s", ".mp4", ".cmfv", ".cmfa"];

/// All problems of `playlist`, ordered by line.
pub fn validate(playlist: &Playlist) -> Vec<Diagnostic> {
    let mut out = playlist.parse_diagnostics().to_vec();
    if playlist.has_master_tags() && !playlist.segments().is_empty() {
        out.push(Diagnostic::error(
            Code::MixedPlaylist,
            1,
            "master playlist tags (EXT-X-STREAM-INF, EXT-X-MEDIA, ...) and media segments in one playlist",
        ));
    }
    if playlist.kind() == Kind::Media {
        media_rules(playlist, &mut out);
    }
    out.sort_by_key(|d| d.line);
    out
}

fn media_rules(p: &Playlist, out: &mut Vec<Diagnostic>) {
    let header = p.header();
    match header.target_duration {
        None => out.push(Diagnostic::error(
            Code::MissingTargetDuration,
            1,
            "a media playlist needs #EXT-X-TARGETDURATION",
        )),
        Some(target) => target_duration_rule(p, target, out),
    }
    if p.segments().is_empty() {
        out.push(Diagnostic::warning(
            Code::EmptyPlaylist,
            1,
            "the media playlist has no segments",
        ));
    }
    if header.playlist_type == Some(PlaylistType::Vod) && !header.end_list {
        out.push(Diagnostic::error(
            Code::MissingEndList,
            last_line_number(p),
            "#EXT-X-PLAYLIST-TYPE:VOD requires #EXT-X-ENDLIST",
        ));
    }
    map_rules(p, out);
    version_rules(p, out);
}

fn last_line_number(p: &Playlist) -> u32 {
    p.lines().last().map_or(1, |l| l.number)
}

fn extinf_line_number(p: &Playlist, first: u32, uri: u32) -> u32 {
    (first..=uri)
        .find(|i| {
            p.lines()
                .get(*i as usize)
                .is_some_and(|l| l.kind == LineKind::Tag(Tag::Inf))
        })
        .and_then(|i| p.lines().get(i as usize))
        .map_or(0, |l| l.number)
}

fn target_duration_rule(p: &Playlist, target: u64, out: &mut Vec<Diagnostic>) {
    for s in p.segments() {
        let rounded = s.duration.round_secs();
        if rounded > target as i64 {
            out.push(Diagnostic::error(
                Code::TargetDurationExceeded,
                extinf_line_number(p, s.first_line, s.uri_line),
                format!(
                    "EXTINF {} rounds to {rounded} s, above #EXT-X-TARGETDURATION:{target}",
                    s.duration
                ),
            ));
        }
    }
}

fn map_rules(p: &Playlist, out: &mut Vec<Diagnostic>) {
    let mut previous_map: Option<&str> = None;
    for (i, s) in p.segments().iter().enumerate() {
        let number = p.lines().get(s.uri_line as usize).map_or(0, |l| l.number);
        let uri = p.segment_uri(s);
        let path = uri.split(['?', '#']).next().unwrap_or(uri);
        if s.map_line.is_none() && FMP4_SUFFIXES.iter().any(|x| path.ends_with(x)) {
            out.push(Diagnostic::error(
                Code::MissingMap,
                number,
                format!("fragmented MP4 segment {uri:?} has no #EXT-X-MAP (initialization section) in effect"),
            ));
        }
        let map = s.map_line.map(|m| p.line_text(m));
        if i > 0 && map != previous_map && map.is_some() && !s.discontinuity {
            let map_number = s
                .map_line
                .and_then(|m| p.lines().get(m as usize))
                .map_or(number, |l| l.number);
            out.push(Diagnostic::warning(
                Code::MapChangeWithoutDiscontinuity,
                map_number,
                "the initialization section changes without #EXT-X-DISCONTINUITY",
            ));
        }
        previous_map = map;
    }
}

/// The lowest EXT-X-VERSION each feature needs (RFC 8216 §7), with the first line using it.
pub fn required_versions(p: &Playlist) -> Vec<(u32, u32, &'static str)> {
    let mut found: Vec<(u32, u32, &'static str)> = Vec::new();
    let mut note = |version: u32, line: u32, what: &'static str| {
        if !found.iter().any(|(_, _, w)| *w == what) {
            found.push((version, line, what));
        }
    };
    if p.header().i_frames_only {
        note(4, 1, "EXT-X-I-FRAMES-ONLY");
    }
    for (index, line) in p.lines().iter().enumerate() {
        let LineKind::Tag(tag) = line.kind else {
            continue;
        };
        let value = p.tag_value(index as u32);
        match tag {
            Tag::Inf if value.split(',').next().is_some_and(|d| d.contains('.')) => {
                note(3, line.number, "decimal EXTINF durations")
            }
            Tag::ByteRange => note(4, line.number, "EXT-X-BYTERANGE"),
            Tag::Map if p.header().i_frames_only => note(5, line.number, "EXT-X-MAP"),
            Tag::Map => note(
                6,
                line.number,
                "EXT-X-MAP outside an I-frames-only playlist",
            ),
            Tag::Define => note(8, line.number, "EXT-X-DEFINE"),
            Tag::Key => {
                let attributes = decode_attributes(value).unwrap_or_default();
                if find(&attributes, "KEYFORMAT").is_some()
                    || find(&attributes, "KEYFORMATVERSIONS").is_some()
                {
                    note(5, line.number, "EXT-X-KEY KEYFORMAT");
                } else if find(&attributes, "IV").is_some() {
                    note(2, line.number, "EXT-X-KEY IV");
                }
            }
            _ => {}
        }
    }
    found
}

fn version_rules(p: &Playlist, out: &mut Vec<Diagnostic>) {
    let declared = p.header().version.unwrap_or(1);
    for (needed, line, what) in required_versions(p) {
        if needed > declared {
            out.push(Diagnostic::error(
                Code::VersionTooLow,
                line,
                format!("{what} needs #EXT-X-VERSION:{needed} or higher; the playlist declares {declared}"),
            ));
        }
    }
}
