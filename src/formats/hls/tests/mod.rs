//! Table-driven tests of the HLS playlist layer.

mod clip;
mod parse;
mod splice;
mod validate;

use super::Playlist;

/// Parses test input that must parse.
pub fn pl(text: &str) -> Playlist {
    Playlist::parse(text).unwrap()
}

/// Parses with a base URL.
pub fn pl_at(text: &str, base: &str) -> Playlist {
    pl(text).with_base_url(Some(base.to_owned()))
}

/// A simple media playlist: `durations` as EXTINF, `seg{i}.ts` URIs, optional PDT on the
/// first segment.
pub fn simple(durations: &[&str], pdt: Option<&str>) -> String {
    let mut s = String::from("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:6\n");
    for (i, d) in durations.iter().enumerate() {
        if i == 0 {
            if let Some(p) = pdt {
                s.push_str(&format!("#EXT-X-PROGRAM-DATE-TIME:{p}\n"));
            }
        }
        s.push_str(&format!("#EXTINF:{d},\nseg{i}.ts\n"));
    }
    s.push_str("#EXT-X-ENDLIST\n");
    s
}
